//! A schema snapshot of a test database, read through SQL from the catalogs, for comparing
//! schemas on every server version of the matrix (pg_dump refuses servers newer than itself,
//! and npm's server builds ship none): what a failed adoption or a refused rollback must leave
//! untouched, and what the sentry and psql must build alike.
//!
//! The snapshot is a sorted text, one entry per object, of everything a migration can create
//! in the user schemas (every schema but `pg_*` and `information_schema`): schemas, tables and
//! their columns, constraints, indexes, views, sequences, functions, triggers, rules, types,
//! policies, statistics objects, operators and the like, extensions, event triggers and
//! comments. It leaves out owners and privileges (as `pg_dump --no-owner --no-privileges`)
//! unless asked for them, what extensions own, data, and oids and attribute numbers (so two
//! databases built alike compare equal). Definitions come from the server's own deparsers
//! (`pg_get_*def`, `format_type`, `pg_get_expr`) under an empty `search_path`, so every name
//! is qualified.
//! Included with `#[path]` by the test files that need it (each has `mod common;`).

// Each test file that includes this module uses only part of it.
#![allow(dead_code)]

use postgres::GenericClient;

use crate::common::TestDb;

/// The snapshot of `db`'s schema, optionally without one table (the sentry's tracking table,
/// which a psql apply does not have) and what belongs to it: its indexes, constraints,
/// triggers, rules, policies, owned sequences, statistics objects and comments.
pub fn schema_snapshot(db: &TestDb, exclude_table: Option<&str>) -> String {
    snapshot_of(&mut db.client(), exclude_table)
}

/// [`schema_snapshot`] with the owners of the schemas, relations, functions and types and
/// every privilege granted on them or by default (as `pg_dump` without `--no-owner` and
/// `--no-privileges`).
pub fn schema_snapshot_with_owners(db: &TestDb) -> String {
    let mut text = entries_of(&mut db.client(), None, true).join("\n");
    text.push('\n');
    text
}

/// [`schema_snapshot`] through an open connection or transaction (what it changes for itself,
/// the `search_path`, is undone when it returns).
pub fn snapshot_of(client: &mut impl GenericClient, exclude_table: Option<&str>) -> String {
    let mut text = entries_of(client, exclude_table, false).join("\n");
    text.push('\n');
    text
}

/// The entries of the snapshot, sorted, with or without owners and privileges; an entry may
/// span several lines (a function's definition, a view's query).
pub fn entries_of(
    client: &mut impl GenericClient,
    exclude_table: Option<&str>,
    with_owners: bool,
) -> Vec<String> {
    let mut tx = client.transaction().expect("begin the snapshot");
    tx.batch_execute("SELECT pg_catalog.set_config('search_path', '', true)")
        .expect("empty the search_path");
    let excluded = excluded_relations(&mut tx, exclude_table);
    let mut queries = queries(&excluded);
    if with_owners {
        queries.extend(owner_queries(&excluded));
    }
    let mut entries = Vec::new();
    for (what, sql) in queries {
        let rows = tx.query(sql.as_str(), &[]).unwrap_or_else(|e| {
            panic!(
                "snapshot of the {what}: {}\n{sql}",
                e.as_db_error()
                    .map_or(e.to_string(), |d| d.message().to_string())
            )
        });
        for row in rows {
            let entry: Option<String> = row.get(0);
            let entry = entry.unwrap_or_else(|| panic!("snapshot of the {what}: a NULL entry"));
            entries.push(entry.trim_end().to_string());
        }
    }
    // Rolled back, which also restores the search_path.
    tx.rollback().expect("end the snapshot");
    // Byte order, not the server's collation: the same on every server and locale.
    entries.sort();
    entries
}

/// The pg_class oids of `table` and of what belongs to it (indexes, owned sequences), as an
/// `oid[]` literal; `'{}'` when there is no such table.
fn excluded_relations(client: &mut impl GenericClient, table: Option<&str>) -> String {
    let Some(table) = table else {
        return "'{}'::pg_catalog.oid[]".to_string();
    };
    let row = client
        .query_one(
            "WITH t AS (SELECT pg_catalog.to_regclass($1)::pg_catalog.oid AS oid) \
             SELECT pg_catalog.array_to_string(pg_catalog.array_agg(o), ',') FROM ( \
               SELECT t.oid AS o FROM t WHERE t.oid IS NOT NULL \
               UNION SELECT i.indexrelid FROM pg_catalog.pg_index i, t WHERE i.indrelid = t.oid \
               UNION SELECT d.objid FROM pg_catalog.pg_depend d, t \
                 WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass \
                   AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass \
                   AND d.refobjid = t.oid AND d.deptype IN ('a', 'i')) AS x",
            &[&table],
        )
        .expect("find the excluded table");
    let oids: Option<String> = row.get(0);
    format!("'{{{}}}'::pg_catalog.oid[]", oids.unwrap_or_default())
}

/// One query per kind of object, each returning one text column: the entries. `excluded` is
/// the `oid[]` of the relations left out.
fn queries(excluded: &str) -> Vec<(&'static str, String)> {
    // Every query runs with an empty search_path, where pg_catalog is still searched first:
    // its names need no qualification.
    let user_ns =
        |n: &str| format!("({n}.nspname !~ '^pg_' AND {n}.nspname <> 'information_schema')");
    let own = |catalog: &str, oid: &str| {
        format!(
            "NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = '{catalog}'::regclass \
             AND e.objid = {oid} AND e.deptype = 'e')"
        )
    };
    let qualified = |n: &str, c: &str| format!("format('%I.%I', {n}.nspname, {c})");
    let rel_of = |oid: &str| {
        format!(
            "(SELECT format('%I.%I', rn.nspname, r.relname) FROM pg_class r \
             JOIN pg_namespace rn ON rn.oid = r.relnamespace WHERE r.oid = {oid})"
        )
    };
    // Options a user sets, in order. Not those named `pg_*`, which no user can set: the
    // server's own bookkeeping (Debian's PostgreSQL 15 keeps a per-table `pg_attver` in every
    // column's options, which its pg_dump leaves out too).
    let sorted_options = |col: &str| {
        format!(
            "coalesce(' with (' || (SELECT string_agg(o, ', ' ORDER BY o) FROM unnest({col}) o \
             WHERE o !~ '^pg_') || ')', '')"
        )
    };
    // PostgreSQL 18 records NOT NULL constraints in pg_constraint (17 those of domains), which
    // earlier versions keep as attnotnull/typnotnull only: the plain ones are left to those
    // flags, so that an identical schema reads the same on every version. Only 18's kinds a
    // flag cannot say (NOT VALID, NO INHERIT) are listed.
    let not_plain_not_null = "NOT (con.contype = 'n' AND con.convalidated \
                              AND (NOT con.connoinherit OR con.contypid <> 0))";
    let ns = user_ns("n");
    let excl = excluded;
    vec![
        (
            "schemas",
            format!(
                "SELECT format('schema %I', n.nspname) FROM pg_namespace n \
                 WHERE {ns} AND {}",
                own("pg_namespace", "n.oid")
            ),
        ),
        (
            "tables and views",
            format!(
                "SELECT format('relation %s %s%s%s%s%s%s%s%s%s', {q}, \
                   CASE c.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'partitioned table' \
                     WHEN 'f' THEN 'foreign table' WHEN 'v' THEN 'view' \
                     ELSE 'materialized view' END, \
                   CASE c.relpersistence WHEN 'u' THEN ' unlogged' ELSE '' END, \
                   CASE WHEN c.relkind IN ('r', 'p', 'm') \
                     THEN ' using ' || coalesce((SELECT amname FROM pg_am WHERE oid = c.relam), '-') \
                     ELSE '' END, \
                   coalesce(' tablespace ' || (SELECT quote_ident(spcname) FROM pg_tablespace \
                     WHERE oid = c.reltablespace), ''), \
                   CASE WHEN c.relrowsecurity THEN ' row-level-security' ELSE '' END, \
                   CASE WHEN c.relforcerowsecurity THEN ' forced' ELSE '' END, \
                   CASE WHEN c.relkind IN ('r', 'p') AND c.relreplident <> 'd' \
                     THEN ' replica-identity=' || c.relreplident::text ELSE '' END, \
                   {opts}, \
                   CASE WHEN c.relkind = 'p' THEN ' partition by ' || pg_get_partkeydef(c.oid) \
                     ELSE '' END \
                   || CASE WHEN c.relispartition \
                     THEN ' partition of ' || (SELECT {parent} FROM pg_inherits i \
                       WHERE i.inhrelid = c.oid) || ' ' || pg_get_expr(c.relpartbound, c.oid) \
                     ELSE coalesce(' inherits (' || (SELECT string_agg({parent}, ', ' \
                       ORDER BY i.inhseqno) FROM pg_inherits i WHERE i.inhrelid = c.oid) \
                       || ')', '') END \
                   || CASE WHEN c.relkind IN ('v', 'm') THEN E' as\\n' || pg_get_viewdef(c.oid) \
                     ELSE '' END) \
                 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE c.relkind IN ('r', 'p', 'f', 'v', 'm') AND {ns} \
                   AND c.oid <> ALL ({excl}) AND {own}",
                q = qualified("n", "c.relname"),
                opts = sorted_options("c.reloptions"),
                parent = rel_of("i.inhparent"),
                own = own("pg_class", "c.oid"),
            ),
        ),
        (
            "columns",
            // The position among the live columns, not attnum: a dropped column leaves a gap
            // that a database built without it does not have.
            format!(
                "SELECT format('column %s %s %I %s%s%s%s%s%s%s%s%s%s', {q}, \
                   row_number() OVER (PARTITION BY a.attrelid ORDER BY a.attnum), \
                   a.attname, format_type(a.atttypid, a.atttypmod), \
                   CASE WHEN a.attnotnull THEN ' not null' ELSE '' END, \
                   CASE WHEN a.attgenerated = '' AND ad.adbin IS NOT NULL \
                     THEN ' default ' || pg_get_expr(ad.adbin, ad.adrelid) ELSE '' END, \
                   CASE WHEN a.attgenerated <> '' \
                     THEN ' generated always as (' || pg_get_expr(ad.adbin, ad.adrelid) || ') ' \
                       || CASE a.attgenerated WHEN 's' THEN 'stored' ELSE 'virtual' END \
                     ELSE '' END, \
                   CASE a.attidentity WHEN 'a' THEN ' generated always as identity' \
                     WHEN 'd' THEN ' generated by default as identity' ELSE '' END, \
                   CASE WHEN a.attcollation <> t.typcollation \
                     THEN ' collate ' || coalesce((SELECT format('%I.%I', cn.nspname, co.collname) \
                       FROM pg_collation co JOIN pg_namespace cn ON cn.oid = co.collnamespace \
                       WHERE co.oid = a.attcollation), '-') ELSE '' END, \
                   CASE WHEN a.attstorage <> t.typstorage THEN ' storage ' || a.attstorage::text \
                     ELSE '' END, \
                   CASE WHEN a.attcompression <> '' THEN ' compression ' || a.attcompression::text \
                     ELSE '' END, \
                   CASE WHEN coalesce(a.attstattarget, -1) <> -1 \
                     THEN ' statistics ' || a.attstattarget ELSE '' END, \
                   {opts} || CASE WHEN a.attislocal THEN '' ELSE ' inherited' END) \
                 FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
                 JOIN pg_namespace n ON n.oid = c.relnamespace \
                 JOIN pg_type t ON t.oid = a.atttypid \
                 LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum \
                 WHERE a.attnum > 0 AND NOT a.attisdropped \
                   AND c.relkind IN ('r', 'p', 'f', 'v', 'm', 'c') AND {ns} \
                   AND c.oid <> ALL ({excl}) AND {own} AND {own_type}",
                q = qualified("n", "c.relname"),
                opts = sorted_options("a.attoptions"),
                own = own("pg_class", "c.oid"),
                own_type = own("pg_type", "c.reltype"),
            ),
        ),
        (
            "table constraints",
            format!(
                "SELECT format('constraint %s %I %s%s', {q}, con.conname, \
                   pg_get_constraintdef(con.oid), \
                   CASE WHEN con.conislocal THEN '' ELSE ' inherited' END) \
                 FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid \
                 JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE {ns} AND c.oid <> ALL ({excl}) AND {own} AND {not_plain_not_null}",
                q = qualified("n", "c.relname"),
                own = own("pg_class", "c.oid"),
            ),
        ),
        (
            "indexes",
            format!(
                "SELECT format('index %s %s%s%s%s%s', {q}, pg_get_indexdef(i.indexrelid), \
                   CASE WHEN i.indisclustered THEN ' clustered' ELSE '' END, \
                   CASE WHEN i.indisvalid THEN '' ELSE ' invalid' END, \
                   CASE WHEN i.indisreplident THEN ' replica-identity' ELSE '' END, \
                   coalesce(' tablespace ' || (SELECT quote_ident(spcname) FROM pg_tablespace \
                     WHERE oid = ic.reltablespace), ''), \
                   coalesce(' attached to ' || (SELECT {parent} FROM pg_inherits i2 \
                     WHERE i2.inhrelid = i.indexrelid), '')) \
                 FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid \
                 JOIN pg_namespace n ON n.oid = ic.relnamespace \
                 WHERE {ns} AND i.indrelid <> ALL ({excl}) AND {own}",
                q = qualified("n", "ic.relname"),
                parent = rel_of("i2.inhparent"),
                own = own("pg_class", "i.indrelid"),
            ),
        ),
        (
            "sequences",
            format!(
                "SELECT format('sequence %s%s as %s start %s increment %s minvalue %s \
                   maxvalue %s cache %s%s%s', {q}, \
                   CASE c.relpersistence WHEN 'u' THEN ' unlogged' ELSE '' END, \
                   format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement, s.seqmin, \
                   s.seqmax, s.seqcache, CASE WHEN s.seqcycle THEN ' cycle' ELSE '' END, \
                   coalesce((SELECT format(' owned by %s.%I%s', {owner}, oa.attname, \
                       CASE d.deptype WHEN 'i' THEN ' (identity)' ELSE '' END) \
                     FROM pg_depend d JOIN pg_attribute oa \
                       ON oa.attrelid = d.refobjid AND oa.attnum = d.refobjsubid \
                     WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid \
                       AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')), \
                     '')) \
                 FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid \
                 JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE {ns} AND c.oid <> ALL ({excl}) AND {own}",
                q = qualified("n", "c.relname"),
                owner = rel_of("d.refobjid"),
                own = own("pg_class", "c.oid"),
            ),
        ),
        (
            "functions and procedures",
            // Not the constructors the server makes for a range type (their type says it all).
            format!(
                "SELECT format(E'function %s\\n%s', p.oid::regprocedure, \
                   pg_get_functiondef(p.oid)) \
                 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
                 WHERE p.prokind <> 'a' AND {ns} AND {own} \
                   AND NOT EXISTS (SELECT 1 FROM pg_depend i WHERE i.classid = 'pg_proc'::regclass \
                     AND i.objid = p.oid AND i.deptype = 'i')",
                own = own("pg_proc", "p.oid"),
            ),
        ),
        (
            "aggregates",
            format!(
                "SELECT format('aggregate %s kind %s direct-args %s sfunc %s stype %s sspace %s \
                   finalfunc %s extra %s modify %s combinefunc %s serialfunc %s deserialfunc %s \
                   msfunc %s minvfunc %s mstype %s mfinalfunc %s extra %s modify %s sortop %s initcond %s \
                   minitcond %s', p.oid::regprocedure, a.aggkind, a.aggnumdirectargs, \
                   a.aggtransfn, format_type(a.aggtranstype, NULL), a.aggtransspace, \
                   a.aggfinalfn, a.aggfinalextra, a.aggfinalmodify, a.aggcombinefn, \
                   a.aggserialfn, a.aggdeserialfn, a.aggmtransfn, a.aggminvtransfn, \
                   format_type(a.aggmtranstype, NULL), a.aggmfinalfn, a.aggmfinalextra, \
                   a.aggmfinalmodify, a.aggsortop::regoperator, \
                   coalesce(quote_literal(a.agginitval), '-'), \
                   coalesce(quote_literal(a.aggminitval), '-')) \
                 FROM pg_aggregate a JOIN pg_proc p ON p.oid = a.aggfnoid \
                 JOIN pg_namespace n ON n.oid = p.pronamespace \
                 WHERE {ns} AND {own}",
                own = own("pg_proc", "p.oid"),
            ),
        ),
        (
            "triggers",
            format!(
                "SELECT format('trigger %s %s%s', {q}, pg_get_triggerdef(tg.oid), \
                   CASE tg.tgenabled WHEN 'O' THEN '' ELSE ' enabled=' || tg.tgenabled::text END) \
                 FROM pg_trigger tg JOIN pg_class c ON c.oid = tg.tgrelid \
                 JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE NOT tg.tgisinternal AND {ns} AND c.oid <> ALL ({excl}) AND {own}",
                q = qualified("n", "c.relname"),
                own = own("pg_class", "c.oid"),
            ),
        ),
        (
            "rules",
            format!(
                "SELECT format('rule %s %s%s', {q}, pg_get_ruledef(r.oid), \
                   CASE r.ev_enabled WHEN 'O' THEN '' ELSE ' enabled=' || r.ev_enabled::text END) \
                 FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class \
                 JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE r.rulename <> '_RETURN' AND {ns} AND c.oid <> ALL ({excl}) AND {own}",
                q = qualified("n", "c.relname"),
                own = own("pg_class", "c.oid"),
            ),
        ),
        (
            "policies",
            format!(
                "SELECT format('policy %s %I %s for %s to %s%s%s', {q}, p.polname, \
                   CASE WHEN p.polpermissive THEN 'permissive' ELSE 'restrictive' END, \
                   CASE p.polcmd WHEN 'r' THEN 'select' WHEN 'a' THEN 'insert' \
                     WHEN 'w' THEN 'update' WHEN 'd' THEN 'delete' ELSE 'all' END, \
                   (SELECT string_agg(role, ', ' ORDER BY role) FROM ( \
                     SELECT CASE WHEN r = 0 THEN 'public' \
                       ELSE quote_ident(pg_get_userbyid(r)) END AS role \
                     FROM unnest(p.polroles) r) AS roles), \
                   coalesce(' using (' || pg_get_expr(p.polqual, p.polrelid) || ')', ''), \
                   coalesce(' with check (' || pg_get_expr(p.polwithcheck, p.polrelid) || ')', \
                     '')) \
                 FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid \
                 JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE {ns} AND c.oid <> ALL ({excl}) AND {own}",
                q = qualified("n", "c.relname"),
                own = own("pg_class", "c.oid"),
            ),
        ),
        (
            "statistics objects",
            format!(
                "SELECT format('statistics %s', pg_get_statisticsobjdef(s.oid)) \
                 FROM pg_statistic_ext s JOIN pg_namespace n ON n.oid = s.stxnamespace \
                 WHERE {ns} AND s.stxrelid <> ALL ({excl}) AND {own}",
                own = own("pg_statistic_ext", "s.oid"),
            ),
        ),
        (
            "types",
            // Not the row types of tables and views, nor the array and multirange types the
            // server makes for a type (the range's entry names its multirange).
            format!(
                "SELECT format('type %s %s', {q}, CASE t.typtype \
                   WHEN 'e' THEN 'enum (' || coalesce((SELECT string_agg(quote_literal(enumlabel), \
                     ', ' ORDER BY enumsortorder) FROM pg_enum WHERE enumtypid = t.oid), '') || ')' \
                   WHEN 'd' THEN 'domain ' || format_type(t.typbasetype, t.typtypmod) \
                     || CASE WHEN t.typnotnull THEN ' not null' ELSE '' END \
                     || coalesce(' default ' || t.typdefault, '') \
                     || CASE WHEN t.typcollation <> (SELECT typcollation FROM pg_type \
                          WHERE oid = t.typbasetype) \
                        THEN ' collate ' || t.typcollation::regcollation::text ELSE '' END \
                   WHEN 'c' THEN 'composite' \
                   WHEN 'r' THEN (SELECT format('range subtype %s opclass %s collation %s \
                       canonical %s subdiff %s multirange %s', format_type(r.rngsubtype, NULL), \
                       (SELECT format('%I.%I', ocn.nspname, oc.opcname) FROM pg_opclass oc \
                         JOIN pg_namespace ocn ON ocn.oid = oc.opcnamespace \
                         WHERE oc.oid = r.rngsubopc), \
                       r.rngcollation::regcollation, r.rngcanonical, r.rngsubdiff, \
                       format_type(r.rngmultitypid, NULL)) FROM pg_range r \
                     WHERE r.rngtypid = t.oid) \
                   ELSE format('base defined %s input %s output %s receive %s send %s \
                       length %s byval %s align %s storage %s category %s', t.typisdefined, \
                       t.typinput, t.typoutput, t.typreceive, t.typsend, t.typlen, t.typbyval, \
                       t.typalign, t.typstorage, t.typcategory) END) \
                 FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace \
                 WHERE t.typtype IN ('b', 'c', 'd', 'e', 'r', 'p') AND {ns} \
                   AND (t.typtype <> 'c' \
                     OR (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c') \
                   AND NOT EXISTS (SELECT 1 FROM pg_type el WHERE el.typarray = t.oid) \
                   AND {own}",
                q = qualified("n", "t.typname"),
                own = own("pg_type", "t.oid"),
            ),
        ),
        (
            "domain constraints",
            format!(
                "SELECT format('constraint on domain %s %I %s', {q}, con.conname, \
                   pg_get_constraintdef(con.oid)) \
                 FROM pg_constraint con JOIN pg_type t ON t.oid = con.contypid \
                 JOIN pg_namespace n ON n.oid = t.typnamespace \
                 WHERE {ns} AND {own} AND {not_plain_not_null}",
                q = qualified("n", "t.typname"),
                own = own("pg_type", "t.oid"),
            ),
        ),
        (
            "operators",
            format!(
                "SELECT format('operator %s proc %s commutator %s negator %s restrict %s \
                   join %s%s%s', o.oid::regoperator, o.oprcode, o.oprcom::regoperator, \
                   o.oprnegate::regoperator, o.oprrest, o.oprjoin, \
                   CASE WHEN o.oprcanmerge THEN ' merges' ELSE '' END, \
                   CASE WHEN o.oprcanhash THEN ' hashes' ELSE '' END) \
                 FROM pg_operator o JOIN pg_namespace n ON n.oid = o.oprnamespace \
                 WHERE {ns} AND {own}",
                own = own("pg_operator", "o.oid"),
            ),
        ),
        (
            "other schema objects",
            // Their existence and names only: collations, conversions, text search objects,
            // operator classes and families.
            [
                ("pg_collation", "collnamespace"),
                ("pg_conversion", "connamespace"),
                ("pg_ts_config", "cfgnamespace"),
                ("pg_ts_dict", "dictnamespace"),
                ("pg_ts_parser", "prsnamespace"),
                ("pg_ts_template", "tmplnamespace"),
                ("pg_opclass", "opcnamespace"),
                ("pg_opfamily", "opfnamespace"),
            ]
            .iter()
            .map(|(catalog, nsp)| {
                format!(
                    "SELECT format('%s %s', i.type, i.identity) FROM {catalog} x \
                     JOIN pg_namespace n ON n.oid = x.{nsp}, \
                     LATERAL pg_identify_object('{catalog}'::regclass, x.oid, 0) i \
                     WHERE {ns} AND {own}",
                    own = own(catalog, "x.oid"),
                )
            })
            .collect::<Vec<_>>()
            .join(" UNION ALL "),
        ),
        (
            "extensions",
            "SELECT format('extension %I schema %I version %s', x.extname, n.nspname, \
               x.extversion) \
             FROM pg_extension x JOIN pg_namespace n ON n.oid = x.extnamespace"
                .to_string(),
        ),
        (
            "event triggers",
            format!(
                "SELECT format('event trigger %I on %s%s execute %s enabled=%s', evtname, \
                   evtevent, coalesce(' tags ' || array_to_string(evttags, ', '), ''), \
                   evtfoid::regprocedure, evtenabled) \
                 FROM pg_event_trigger WHERE {}",
                own("pg_event_trigger", "oid")
            ),
        ),
        (
            "comments",
            // Of objects in the user schemas and of those schemas; not of what extensions own
            // nor of the excluded table and its parts.
            format!(
                "SELECT format('comment on %s %s is %s', o.type, o.identity, \
                   quote_literal(d.description)) \
                 FROM pg_description d, \
                   LATERAL pg_identify_object(d.classoid, d.objoid, d.objsubid) o \
                 WHERE CASE WHEN d.classoid = 'pg_namespace'::regclass \
                     THEN EXISTS (SELECT 1 FROM pg_namespace n WHERE n.oid = d.objoid AND {ns}) \
                     ELSE o.schema IS NOT NULL AND o.schema !~ '^pg_' \
                       AND o.schema <> 'information_schema' END \
                   AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = d.classoid \
                     AND e.objid = d.objoid AND e.deptype = 'e') \
                   AND NOT (d.classoid = 'pg_class'::regclass AND d.objoid = ANY ({excl})) \
                   AND NOT (d.classoid = 'pg_constraint'::regclass AND (SELECT conrelid \
                     FROM pg_constraint WHERE oid = d.objoid) = ANY ({excl})) \
                   AND NOT (d.classoid = 'pg_trigger'::regclass AND (SELECT tgrelid \
                     FROM pg_trigger WHERE oid = d.objoid) = ANY ({excl})) \
                   AND NOT (d.classoid = 'pg_rewrite'::regclass AND (SELECT ev_class \
                     FROM pg_rewrite WHERE oid = d.objoid) = ANY ({excl})) \
                   AND NOT (d.classoid = 'pg_policy'::regclass AND (SELECT polrelid \
                     FROM pg_policy WHERE oid = d.objoid) = ANY ({excl})) \
                   AND NOT (d.classoid = 'pg_statistic_ext'::regclass AND (SELECT stxrelid \
                     FROM pg_statistic_ext WHERE oid = d.objoid) = ANY ({excl}))"
            ),
        ),
    ]
}

/// The owners of the schemas, relations, functions and types of the user schemas, what is
/// granted on them and on their columns (each ACL's items sorted), and the default privileges.
fn owner_queries(excluded: &str) -> Vec<(&'static str, String)> {
    let user_ns = "(n.nspname !~ '^pg_' AND n.nspname <> 'information_schema')";
    let not_extension_owned = "NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = x.cls \
                               AND e.objid = x.oid AND e.deptype = 'e')";
    // (catalog, object, sub-object, owner, ACL) of every object that has an owner.
    let objects = format!(
        "SELECT 'pg_namespace'::regclass AS cls, n.oid, 0 AS sub, n.nspowner AS owner, \
           n.nspacl AS acl FROM pg_namespace n WHERE {user_ns} \
         UNION ALL SELECT 'pg_class'::regclass, c.oid, 0, c.relowner, c.relacl \
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
           WHERE c.relkind IN ('r', 'p', 'f', 'v', 'm', 'S') AND {user_ns} \
             AND c.oid <> ALL ({excluded}) \
         UNION ALL SELECT 'pg_proc'::regclass, p.oid, 0, p.proowner, p.proacl \
           FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE {user_ns} \
         UNION ALL SELECT 'pg_type'::regclass, t.oid, 0, t.typowner, t.typacl \
           FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace \
           WHERE t.typtype IN ('b', 'c', 'd', 'e', 'r', 'p') AND {user_ns} \
             AND (t.typtype <> 'c' \
               OR (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c') \
             AND NOT EXISTS (SELECT 1 FROM pg_type el WHERE el.typarray = t.oid)"
    );
    let sorted_acl = "(SELECT string_agg(a::text, ',' ORDER BY a::text) FROM unnest(x.acl) a)";
    vec![
        (
            "owners",
            format!(
                "SELECT format('owner %s %s %s', i.type, i.identity, \
                   quote_ident(pg_get_userbyid(x.owner))) \
                 FROM ({objects}) x, LATERAL pg_identify_object(x.cls, x.oid, 0) i \
                 WHERE {not_extension_owned}"
            ),
        ),
        (
            "privileges",
            format!(
                "SELECT format('privileges %s %s %s', i.type, i.identity, {sorted_acl}) \
                 FROM ({objects} \
                   UNION ALL SELECT 'pg_class'::regclass, a.attrelid, a.attnum, 0, a.attacl \
                   FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
                   JOIN pg_namespace n ON n.oid = c.relnamespace \
                   WHERE a.attacl IS NOT NULL AND NOT a.attisdropped AND {user_ns} \
                     AND c.oid <> ALL ({excluded})) x, \
                   LATERAL pg_identify_object(x.cls, x.oid, x.sub) i \
                 WHERE x.acl IS NOT NULL AND {not_extension_owned}"
            ),
        ),
        (
            "default privileges",
            format!(
                "SELECT format('default privileges of %s in %s on %s %s', \
                   quote_ident(pg_get_userbyid(x.defaclrole)), \
                   coalesce((SELECT quote_ident(nspname) FROM pg_namespace \
                     WHERE oid = x.defaclnamespace), '-'), x.defaclobjtype, {sorted_acl}) \
                 FROM (SELECT d.*, d.defaclacl AS acl FROM pg_default_acl d) x"
            ),
        ),
    ]
}
