//! Catalog queries: the read-only check of every requirement against a live database
//! ([`verify`]), one round trip per kind of requirement present, every name bound as a
//! parameter. What each query finds is judged in `report.rs`.

use postgres::types::{ToSql, Type};

use super::Requirement;
use super::report::{
    CheckResult, ColumnFound, ConstraintFound, IndexFound, TableFound, column_result,
    constraint_result, index_result, table_result,
};
use crate::db::Traced;
use crate::error::{Error, Result};

/// Checks every requirement against the database, read only, and returns the results in
/// requirement order. One query per kind of requirement present, each a single round trip
/// (`query_typed`: no separate prepare), with every name bound as a `text[]` parameter.
pub fn verify(client: &mut postgres::Client, reqs: &[Requirement]) -> Result<Vec<CheckResult>> {
    let mut results: Vec<Option<CheckResult>> = vec![None; reqs.len()];

    let columns: Vec<usize> = indices(reqs, |r| matches!(r, Requirement::Column { .. }));
    if !columns.is_empty() {
        let (mut s, mut t, mut c) = (Vec::new(), Vec::new(), Vec::new());
        for &i in &columns {
            if let Requirement::Column {
                schema,
                table,
                column,
                ..
            } = &reqs[i]
            {
                s.push(schema.as_str());
                t.push(table.as_str());
                c.push(column.as_str());
            }
        }
        let rows = query(
            client,
            COLUMNS_SQL,
            &[&s, &t, &c],
            "checking required columns",
        )?;
        for (row, &i) in first_per_ordinal(&rows, columns.len())?.zip(&columns) {
            let found = ColumnFound {
                schema_exists: row.get(1),
                relkind: row.get(2),
                data_type: row.get(3),
                not_null: row.get(4),
            };
            results[i] = Some(column_result(&reqs[i], &found));
        }
    }

    let index_reqs: Vec<usize> = indices(reqs, |r| matches!(r, Requirement::Index { .. }));
    if !index_reqs.is_empty() {
        let (mut s, mut n) = (Vec::new(), Vec::new());
        for &i in &index_reqs {
            if let Requirement::Index { schema, name } = &reqs[i] {
                s.push(schema.as_str());
                n.push(name.as_str());
            }
        }
        let rows = query(client, INDEXES_SQL, &[&s, &n], "checking required indexes")?;
        for (row, &i) in first_per_ordinal(&rows, index_reqs.len())?.zip(&index_reqs) {
            let found = IndexFound {
                schema_exists: row.get(1),
                relkind: row.get(2),
                table_schema: row.get(3),
                table: row.get(4),
                elsewhere: row.get(5),
                valid: row.get(6),
            };
            results[i] = Some(index_result(&reqs[i], &found));
        }
    }

    let constraints: Vec<usize> = indices(reqs, |r| matches!(r, Requirement::Constraint { .. }));
    if !constraints.is_empty() {
        let (mut s, mut t, mut n) = (Vec::new(), Vec::new(), Vec::new());
        for &i in &constraints {
            if let Requirement::Constraint {
                schema,
                table,
                name,
            } = &reqs[i]
            {
                s.push(schema.as_str());
                t.push(table.as_str());
                n.push(name.as_str());
            }
        }
        let rows = query(
            client,
            CONSTRAINTS_SQL,
            &[&s, &t, &n],
            "checking required constraints",
        )?;
        for (row, &i) in first_per_ordinal(&rows, constraints.len())?.zip(&constraints) {
            let found = ConstraintFound {
                schema_exists: row.get(1),
                table_exists: row.get(2),
                contype: row.get(3),
                index_of_that_name: row.get(4),
                elsewhere: row.get(5),
            };
            results[i] = Some(constraint_result(&reqs[i], &found));
        }
    }

    let tables: Vec<usize> = indices(reqs, |r| matches!(r, Requirement::Table { .. }));
    if !tables.is_empty() {
        let (mut s, mut t) = (Vec::new(), Vec::new());
        for &i in &tables {
            if let Requirement::Table { schema, table } = &reqs[i] {
                s.push(schema.as_str());
                t.push(table.as_str());
            }
        }
        let rows = query(client, TABLES_SQL, &[&s, &t], "checking required tables")?;
        for (row, &i) in first_per_ordinal(&rows, tables.len())?.zip(&tables) {
            let found = TableFound {
                schema_exists: row.get(1),
                relkind: row.get(2),
                elsewhere: row.get(3),
            };
            results[i] = Some(table_result(&reqs[i], &found));
        }
    }

    results
        .into_iter()
        .map(|r| r.ok_or_else(|| Error::Internal("a requirement was not checked".into())))
        .collect()
}

// Each query takes parallel text[] arrays, one element per requirement, and returns exactly
// one row per element, ordered by its 1-based position `i`. Relation kinds and constraint
// types are "char" in the catalog: cast to text for the driver.

const COLUMNS_SQL: &str = "\
SELECT r.i, n.oid IS NOT NULL, c.relkind::text, format_type(a.atttypid, a.atttypmod), a.attnotnull
FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS r(sch, tbl, col, i)
LEFT JOIN pg_catalog.pg_namespace n ON n.nspname = r.sch
LEFT JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = r.tbl
     AND c.relkind IN ('r', 'p', 'f', 'v', 'm')
LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attname = r.col
     AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY r.i";

const INDEXES_SQL: &str = "\
SELECT r.i, n.oid IS NOT NULL, c.relkind::text, tn.nspname::text, t.relname::text,
       ARRAY(SELECT n2.nspname::text FROM pg_catalog.pg_class c2
             JOIN pg_catalog.pg_namespace n2 ON n2.oid = c2.relnamespace
             WHERE c2.relname = r.name AND c2.relkind IN ('i', 'I') AND n2.nspname <> r.sch
             ORDER BY 1),
       x.indisvalid
FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS r(sch, name, i)
LEFT JOIN pg_catalog.pg_namespace n ON n.nspname = r.sch
LEFT JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = r.name
LEFT JOIN pg_catalog.pg_index x ON x.indexrelid = c.oid
LEFT JOIN pg_catalog.pg_class t ON t.oid = x.indrelid
LEFT JOIN pg_catalog.pg_namespace tn ON tn.oid = t.relnamespace
ORDER BY r.i";

const CONSTRAINTS_SQL: &str = "\
SELECT r.i, n.oid IS NOT NULL, c.oid IS NOT NULL, k.contype::text,
       EXISTS (SELECT 1 FROM pg_catalog.pg_class ci
               WHERE ci.relnamespace = n.oid AND ci.relname = r.name AND ci.relkind IN ('i', 'I')),
       ARRAY(SELECT quote_ident(n2.nspname) || '.' || quote_ident(c2.relname)
             FROM pg_catalog.pg_constraint k2
             JOIN pg_catalog.pg_class c2 ON c2.oid = k2.conrelid
             JOIN pg_catalog.pg_namespace n2 ON n2.oid = c2.relnamespace
             WHERE k2.conname = r.name AND c2.oid IS DISTINCT FROM c.oid
             ORDER BY 1)
FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS r(sch, tbl, name, i)
LEFT JOIN pg_catalog.pg_namespace n ON n.nspname = r.sch
LEFT JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = r.tbl
     AND c.relkind IN ('r', 'p', 'f')
LEFT JOIN pg_catalog.pg_constraint k ON k.conrelid = c.oid AND k.conname = r.name
ORDER BY r.i";

const TABLES_SQL: &str = "\
SELECT r.i, n.oid IS NOT NULL, c.relkind::text,
       ARRAY(SELECT n2.nspname::text FROM pg_catalog.pg_class c2
             JOIN pg_catalog.pg_namespace n2 ON n2.oid = c2.relnamespace
             WHERE c2.relname = r.tbl AND c2.relkind IN ('r', 'p', 'f') AND n2.nspname <> r.sch
             ORDER BY 1)
FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS r(sch, tbl, i)
LEFT JOIN pg_catalog.pg_namespace n ON n.nspname = r.sch
LEFT JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = r.tbl
ORDER BY r.i";

fn indices(reqs: &[Requirement], pred: impl Fn(&Requirement) -> bool) -> Vec<usize> {
    (0..reqs.len()).filter(|&i| pred(&reqs[i])).collect()
}

/// Runs one of the queries above with its text[] parameters in a single round trip.
fn query(
    client: &mut postgres::Client,
    sql: &str,
    arrays: &[&Vec<&str>],
    context: &str,
) -> Result<Vec<postgres::Row>> {
    let params: Vec<(&(dyn ToSql + Sync), Type)> = arrays
        .iter()
        .map(|a| (*a as &(dyn ToSql + Sync), Type::TEXT_ARRAY))
        .collect();
    client
        .traced(sql, &params)
        .map_err(|e| Error::db(context, &e))
}

/// The rows for ordinals 1..=n, one each. The joins are on unique keys, so there is exactly
/// one row per ordinal; should a catalog ever yield more, the first is used.
fn first_per_ordinal(
    rows: &[postgres::Row],
    n: usize,
) -> Result<impl Iterator<Item = &postgres::Row>> {
    let mut picked: Vec<Option<&postgres::Row>> = vec![None; n];
    for row in rows {
        let i: i64 = row.get(0);
        if let Some(slot) = usize::try_from(i - 1).ok().and_then(|k| picked.get_mut(k)) {
            slot.get_or_insert(row);
        }
    }
    if picked.iter().any(Option::is_none) {
        return Err(Error::Internal(
            "the catalog query returned no row for a requirement".into(),
        ));
    }
    Ok(picked.into_iter().flatten())
}
