//! Adoption (SPEC §7): the tracking table is empty but the database already holds a schema, so
//! the history is being replayed onto objects that may already exist. The replay is
//! all-or-nothing: one transaction for every pending migration, each statement under a
//! savepoint with the statement-level recovery of stamp recovery; anything that stops it rolls
//! all of it back, and the report carries the advice that trials justify.
//!
//! What the replay sees, per migration ([`crate::evidence`] reads the statements): objects
//! already there ("already exists" errors, and what `IF NOT EXISTS` or a concurrent index build
//! finds in the catalog from before the replay) and objects it created. A linear history applied
//! up to some migration shows the first kind up to that migration and the second kind after it;
//! a migration that creates something new *before* one whose objects already exist means later
//! migrations renamed or dropped what it creates, and committing the replay would leave stale
//! objects behind. Statements that succeed either way (an unnamed index, `OR REPLACE`) tell
//! nothing.
//!
//! The replay is committed only when nothing stops it. Besides a failure and inconsistent
//! evidence, three things do: a no-transaction migration, or a statement that cannot share one
//! transaction with the migrations before it (an enum value used after the migration that adds
//! it: a real run commits that migration first) — the replay is then only a trial; and a
//! statement that leaves nothing a replay can find (a sequence restart, a data change, an
//! unnamed index) in a migration this database has seen or may have seen: committing would run
//! it twice.
//!
//! The advice ([`advise`]) is tried, never guessed. It starts from the newest migration whose
//! objects are present; migrations after it may have run too without leaving anything to find,
//! so trials, always rolled back, replay what `run` would apply after each candidate stamp
//! until one applies the rest without error. What no trial can run is listed as not tried,
//! with the reason; the migrations after the stamp that no trial can vouch for are listed for
//! the operator to check. A trial never runs what its rollback would not undo (`setval`).

use std::collections::HashMap;
use std::time::Instant;

use log::{info, warn};
use postgres::types::{ToSql, Type};
use postgres::{Client, Transaction};

use crate::apply::{self, ALREADY_EXISTS, Loaded, Outcome, Settings};
use crate::contents;
use crate::db::Traced;
use crate::error::{AdoptionFailure, Advice, Check, Error, Result, StatementFailure};
use crate::evidence;
use crate::migrations::Migration;
use crate::session::Baseline;
use crate::sql_split::{self, Statement};
use crate::tracking::{self, Table};

/// The settings the replay's transaction sets itself (`SET LOCAL`): not a migration's doing.
const OWN_SETTINGS: [&str; 3] = ["lock_timeout", "statement_timeout", "synchronous_commit"];

/// Up to this many objects are named in messages.
const NAMED_OBJECTS: i64 = 5;

/// Objects outside the system schemas, other than the tracking table and what extensions
/// own: a few of their names, and how many there are. Empty when the database has no schema
/// of its own yet (one round trip).
pub fn existing_objects(client: &mut Client, table: &Table) -> Result<(Vec<String>, i64)> {
    let schema = table.schema.clone().unwrap_or_default();
    let rows = client
        .traced(
            "WITH objects AS ( \
               SELECT format('%s %I.%I', CASE c.relkind WHEN 'S' THEN 'sequence' \
                        WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' ELSE 'table' END, \
                        n.nspname, c.relname) AS name, c.oid, 'pg_class'::regclass AS cls \
               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
               WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') \
                 AND c.oid IS DISTINCT FROM to_regclass($1) \
                 AND n.nspname <> 'information_schema' AND n.nspname !~ '^pg_' \
               UNION ALL \
               SELECT format('type %I.%I', n.nspname, t.typname), t.oid, 'pg_type'::regclass \
               FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace \
               WHERE (t.typtype IN ('e', 'd', 'r', 'm') OR (t.typtype = 'c' AND \
                      (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c')) \
                 AND n.nspname <> 'information_schema' AND n.nspname !~ '^pg_' \
               UNION ALL \
               SELECT format('function %I.%I', n.nspname, p.proname), p.oid, 'pg_proc'::regclass \
               FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
               WHERE n.nspname <> 'information_schema' AND n.nspname !~ '^pg_' \
               UNION ALL \
               SELECT format('schema %I', n.nspname), n.oid, 'pg_namespace'::regclass \
               FROM pg_namespace n \
               WHERE n.nspname NOT IN ('information_schema', 'public', $2) \
                 AND n.nspname !~ '^pg_' \
             ), own AS ( \
               SELECT name FROM objects o WHERE NOT EXISTS ( \
                 SELECT 1 FROM pg_depend d \
                 WHERE d.classid = o.cls AND d.objid = o.oid AND d.deptype = 'e') \
             ) \
             SELECT name, count(*) OVER () FROM own ORDER BY name LIMIT $3",
            &[
                (&table.sql as &(dyn ToSql + Sync), Type::TEXT),
                (&schema, Type::TEXT),
                (&NAMED_OBJECTS, Type::INT8),
            ],
        )
        .map_err(|e| Error::db("looking for an existing schema", &e))?;
    let mut names = Vec::new();
    let mut total = 0;
    for r in &rows {
        if let Ok(Some(name)) = r.try_get::<_, Option<String>>(0) {
            names.push(name);
        }
        total = r
            .try_get::<_, Option<i64>>(1)
            .ok()
            .flatten()
            .unwrap_or(total);
    }
    Ok((names, total))
}

/// What the replay of one migration showed.
#[derive(Debug, Default)]
struct Evidence {
    version: String,
    /// Statements whose objects were already there: skipped because they failed with "already
    /// exists" (`file:line SQLSTATE message`), or found in the catalog from before the replay
    /// (what `IF NOT EXISTS` left as it was, an index the replay could not build concurrently).
    existed: Vec<String>,
    /// The statements stamp recovery skipped, for the migration's tracking row.
    skipped: Vec<String>,
    /// Statements that created something that did not exist (`file:line first line`).
    created: Vec<String>,
    /// The line of each of `created`, in the file.
    created_lines: Vec<usize>,
    /// Those of `created` that were plain `CREATE`s, `ADD`s or renames, rather than an
    /// `IF NOT EXISTS` that found its object missing (see [`Replay::inconsistency`]).
    plainly_created: Vec<String>,
    /// Statements that failed otherwise.
    failed: usize,
    /// Statements run in all.
    statements: usize,
    /// A `-- sentry:no-transaction` migration: replayed inside the replay's transaction,
    /// without the transaction control of its own, which a real run does not do.
    no_transaction: bool,
    /// Statements the replay could not run (a limit of its single transaction), with why.
    untried: Vec<(String, String)>,
    /// Statements a replay that may be rolled back leaves out, with why: their effect would
    /// survive the rollback (`setval`).
    deferred: Vec<(String, String)>,
    /// Its statements whose effect the catalog cannot show (`file:line what: first line`).
    invisible: Vec<String>,
}

impl Evidence {
    fn line(&self) -> String {
        let mut parts = Vec::new();
        if !self.existed.is_empty() {
            parts.push(format!(
                "{} statement(s) found their objects already present (first: {})",
                self.existed.len(),
                self.existed[0]
            ));
        }
        if !self.created.is_empty() {
            parts.push(format!(
                "{} statement(s) created objects that did not exist (first: {})",
                self.created.len(),
                self.created[0]
            ));
        }
        if self.failed > 0 {
            parts.push(format!("{} statement(s) failed", self.failed));
        }
        if !self.untried.is_empty() {
            parts.push(format!(
                "{} statement(s) could not be run in the replay's transaction",
                self.untried.len()
            ));
        }
        if !self.deferred.is_empty() {
            parts.push(format!(
                "{} statement(s) left out (a rollback would not undo them)",
                self.deferred.len()
            ));
        }
        if parts.is_empty() {
            parts.push(format!(
                "{} statement(s) ran without telling either way",
                self.statements
            ));
        }
        let how = if self.no_transaction {
            " (a no-transaction migration: replayed statement by statement in the replay's \
             transaction)"
        } else {
            ""
        };
        format!("{}{how}: {}", self.version, parts.join("; "))
    }
}

/// How a replay ended.
#[derive(Debug, Default)]
struct Replay {
    outcomes: Vec<Outcome>,
    evidence: Vec<Evidence>,
    /// The first statement that failed (the replay goes on looking after it).
    failure: Option<StatementFailure>,
    /// The first statement the replay could not run, when that came before `failure`: the
    /// failure may follow from it rather than from the database.
    untried_before_failure: Option<(String, String)>,
}

/// The index of the first migration in `evidence` that created something and found nothing
/// present (wholly new: in a history applied in order, neither it nor any after it ran), or
/// its length. A migration with both is partly applied, which says nothing of the ones after.
fn first_new(evidence: &[Evidence]) -> usize {
    evidence
        .iter()
        .position(|e| !e.created.is_empty() && e.existed.is_empty())
        .unwrap_or(evidence.len())
}

impl Replay {
    /// The newest migration whose objects were found already present, if any.
    fn last_seen(&self) -> Option<&Evidence> {
        self.last_seen_index().map(|i| &self.evidence[i])
    }

    fn last_seen_index(&self) -> Option<usize> {
        self.evidence.iter().rposition(|e| !e.existed.is_empty())
    }

    /// A migration that created something new before a later one found its objects present.
    ///
    /// Only a plain `CREATE`, `ADD` or rename counts as the earlier one's evidence: its object
    /// missing while a later migration's are there is what a later rename explains (the rename
    /// target exists, so replaying the rename is skipped and the re-created object is left
    /// behind). An `IF NOT EXISTS` that found its object missing says as much, but a hand
    /// patch of a few of a migration's objects explains it as well, and completing such a
    /// migration is what stamp recovery is for.
    fn inconsistency(&self) -> Option<String> {
        let first_new = self
            .evidence
            .iter()
            .position(|e| !e.plainly_created.is_empty())?;
        let last_seen = self.last_seen_index()?;
        if first_new >= last_seen {
            return None;
        }
        let (new, seen) = (&self.evidence[first_new], &self.evidence[last_seen]);
        Some(format!(
            "{} created objects that did not exist ({}), yet the later {} found its objects \
             already present ({}): in a history applied in order that cannot be, so a later \
             migration renamed or dropped what {} creates (or this database was built another \
             way), and committing the replay would leave stale objects behind",
            new.version, new.plainly_created[0], seen.version, seen.existed[0], new.version
        ))
    }

    /// Every statement the replay could not run, with why.
    fn untried(&self) -> Vec<(String, String)> {
        self.evidence
            .iter()
            .flat_map(|e| e.untried.iter().cloned())
            .collect()
    }

    /// Every statement the replay left out because a rollback would not undo it, with why.
    fn deferred(&self) -> Vec<(String, String)> {
        self.evidence
            .iter()
            .flat_map(|e| e.deferred.iter().cloned())
            .collect()
    }

    /// What a report lists as not run: the statements the replay could not run, then those
    /// it left out.
    fn not_run(&self) -> Vec<(String, String)> {
        let mut all = self.untried();
        all.extend(self.deferred());
        all
    }

    /// The migrations that may have run before although nothing in the catalog shows it: those
    /// after the newest one whose objects are present, up to (not including) the first that
    /// created something new — in a history applied in order, a migration that created
    /// something had not run, and neither had any after it.
    fn unseen_after_last_seen(&self) -> std::ops::Range<usize> {
        let from = self.last_seen_index().map_or(0, |i| i + 1);
        from..from + first_new(&self.evidence[from..])
    }

    /// Why committing the replay would run again, unseen, what may have run before: statements
    /// that leave nothing a replay can find, in migrations up to the newest one whose objects
    /// are present (they ran) or after it before one that created something (they may have).
    ///
    /// When that newest migration also created objects, it was only partly applied (a hot
    /// patch, an interrupted no-transaction migration): it did not run as a whole, so neither
    /// did any migration after it, and completing it is what stamp recovery is for — only the
    /// migrations before it count.
    fn reruns(&self) -> Option<String> {
        let seen = self.last_seen()?;
        let partial = !seen.created.is_empty();
        let end = if partial {
            self.last_seen_index().unwrap_or(0)
        } else {
            self.unseen_after_last_seen().end
        };
        let hits: Vec<&Evidence> = self.evidence[..end]
            .iter()
            .filter(|e| !e.invisible.is_empty())
            .collect();
        let first = hits.first()?;
        let more = match hits.len() {
            1 => String::new(),
            2 => format!(" and in {}", hits[1].version),
            n => format!(" and in {} more, up to {}", n - 1, hits[n - 1].version),
        };
        let seen_how = if partial {
            format!(
                "{} is partly applied, so every migration before it ran",
                seen.version
            )
        } else {
            format!(
                "{} has objects present, so it and every migration before it ran) or may have \
                 seen (those after it, until one creates something new",
                seen.version
            )
        };
        Some(format!(
            "it would run again statements that leave nothing a replay can find, in migrations \
             this database has seen ({seen_how}): {} in {}{more}",
            first.invisible[0], first.version
        ))
    }
}

/// What every replay of one adoption shares.
struct Context<'a> {
    table: &'a Table,
    /// The tracking table does not exist yet: each replay creates it in its transaction.
    create_table: bool,
    pending: &'a [&'a Migration],
    s: &'a Settings,
    baseline: &'a Baseline,
    /// For each object the pending migrations declare by name (see
    /// [`evidence::Guarded::key`]), the first migration that declares it.
    owners: HashMap<String, String>,
}

impl Context<'_> {
    /// Whether an object found in the catalog from before the replay is evidence that
    /// `version` ran: `version` is the first migration to declare it (a later `IF NOT EXISTS`
    /// of an earlier migration's object says nothing of the later one).
    fn owns(&self, version: &str, object: &evidence::Guarded) -> bool {
        self.owners
            .get(&object.key())
            .is_none_or(|first| first == version)
    }
}

/// The first migration of `pending` that declares each object by name.
fn owners(pending: &[&Migration]) -> Result<HashMap<String, String>> {
    let mut owners = HashMap::new();
    for m in pending {
        let loaded = Loaded::read(m)?;
        for st in apply::split(&loaded)? {
            for object in evidence::declared_objects(st.sql) {
                owners
                    .entry(object.key())
                    .or_insert_with(|| m.version.clone());
            }
        }
    }
    Ok(owners)
}

/// Adopts the database: replays `pending` all-or-nothing and returns what was recorded, or
/// `None` when the database turns out not to need adoption (see below) and the migrations are
/// to be applied one by one as usual.
///
/// The replay runs every pending migration in one transaction. It is committed only when
/// nothing failed, the evidence is consistent, nothing the catalog cannot show would run
/// again (see [`Replay::reruns`]), and every statement could run in it. A no-transaction
/// migration, or statements that cannot share one transaction (an enum value used after the
/// migration that adds it), make the adoption impossible as one transaction: then the replay is
/// only a trial, always rolled back. If it shows no object of this history at all, the
/// database's objects are unrelated to it and nothing needs adopting (`None`); otherwise the
/// run is refused (exit 6). Whatever stops the adoption, the report carries the advice that
/// trials justify ([`advise`]).
pub fn adopt(
    client: &mut Client,
    table: &Table,
    create_table: bool,
    pending: &[&Migration],
    s: &Settings,
    baseline: &Baseline,
    objects: &(Vec<String>, i64),
) -> Result<Option<Vec<Outcome>>> {
    let (names, total) = objects;
    let mut shown = names.clone();
    if *total > names.len() as i64 {
        shown.push(format!("… {} in all", total));
    }
    warn!(
        "ADOPTING AN EXISTING SCHEMA: the tracking table {} is empty but the database already \
         holds {total} object(s) ({}). The {} pending migration(s) are replayed in ONE \
         transaction: statements whose objects exist are skipped and noted, and if anything \
         else fails, nothing of the replay is committed",
        table.qualified,
        shown.join(", "),
        pending.len()
    );
    let cx = Context {
        table,
        create_table,
        pending,
        s,
        baseline,
        owners: owners(pending)?,
    };
    // The first replay leaves out what a rollback cannot undo (`setval`): it may well end
    // rolled back.
    let (tx, mut result) = replay(client, &cx, pending, false)?;
    let refused = refusal(pending, &result);
    let commits = |r: &Replay| {
        refused.is_none()
            && r.failure.is_none()
            && r.inconsistency().is_none()
            && r.reruns().is_none()
    };
    if commits(&result) && result.deferred().is_empty() {
        // Every migration of the replay and its tracking row commit together, or none does.
        tx.commit()
            .map_err(|e| Error::db("committing the adoption", &e))?;
        return Ok(Some(result.outcomes));
    }
    tx.rollback()
        .map_err(|e| Error::db("rolling back the adoption", &e))?;
    if commits(&result) {
        info!(
            "the adoption replay applies cleanly; replaying it again with the {} statement(s) \
             it left out (a rollback would not have undone them), to commit it",
            result.deferred().len()
        );
        let (tx, again) = replay(client, &cx, pending, true)?;
        if commits(&again) {
            tx.commit()
                .map_err(|e| Error::db("committing the adoption", &e))?;
            return Ok(Some(again.outcomes));
        }
        tx.rollback()
            .map_err(|e| Error::db("rolling back the adoption", &e))?;
        result = again;
    }
    let untried = result.not_run();
    // Only a reason of its own when nothing else stops the replay.
    let reruns = result
        .reruns()
        .filter(|_| refused.is_none() && result.failure.is_none());
    if refused.is_some()
        && result.failure.is_none()
        && result.last_seen().is_none()
        && result.inconsistency().is_none()
    {
        info!(
            "the trial replay (rolled back) of the {} pending migration(s) found none of their \
             objects in the database: its objects are not this history's, so there is nothing \
             to adopt; applying the migrations one by one",
            pending.len()
        );
        return Ok(None);
    }
    let mut advice = advise(client, &cx, &result)?;
    advice.untried.retain(|u| !untried.contains(u));
    Err(Error::Adoption(Box::new(AdoptionFailure {
        pending: pending.len(),
        objects: shown,
        refused,
        inconsistency: result.inconsistency(),
        reruns,
        evidence: result.evidence.iter().map(Evidence::line).collect(),
        untried,
        advice,
        failure: result.failure,
    })))
}

/// Why adopting `pending` cannot be one transaction, as the replay `r` shows: a no-transaction
/// migration, or statements that could not run in the replay's transaction.
fn refusal(pending: &[&Migration], r: &Replay) -> Option<String> {
    if let Some(m) = pending.iter().find(|m| m.no_transaction) {
        return Some(format!(
            "{} ({}) is a no-transaction migration, which cannot be part of one transaction",
            m.version,
            m.path.display()
        ));
    }
    let untried = r.untried();
    (!untried.is_empty()).then(|| {
        format!(
            "{} statement(s) cannot share one transaction with the migrations before them \
             (listed below)",
            untried.len()
        )
    })
}

/// How many trials [`advise`] makes before it stops looking, and how many of the alternatives
/// it lists for the operator to check it tries.
const TRIALS: usize = 5;
const ALTERNATIVES: usize = 3;

fn position(ms: &[&Migration], version: &str) -> usize {
    ms.iter()
        .position(|m| m.version == version)
        .unwrap_or(ms.len().saturating_sub(1))
}

/// What stamping `pending[k]` and running the rest does, as a trial (rolled back) shows.
enum Trial {
    /// The rest applies without error, apart from statements the trial could not run.
    Clean(Replay),
    /// The trial shows the database is past `pending[k]`: at `version`, for the reason given
    /// (a failure with nothing new before it, or objects present after new ones).
    Past {
        version: String,
        seen: String,
        replay: Replay,
    },
    /// A failure the stamp does not explain, described.
    Stops(String, Replay),
}

fn trial(client: &mut Client, cx: &Context<'_>, k: usize) -> Result<Trial> {
    info!(
        "adoption: trying the migrations after {} as `run` would apply them (rolled back)",
        cx.pending[k].version
    );
    let (tx, replay) = replay(client, cx, &cx.pending[k + 1..], false)?;
    tx.rollback()
        .map_err(|e| Error::db("rolling back a trial", &e))?;
    let Some(f) = &replay.failure else {
        return Ok(match (replay.inconsistency(), replay.last_seen()) {
            (Some(seen), Some(e)) => Trial::Past {
                version: e.version.clone(),
                seen,
                replay,
            },
            _ => Trial::Clean(replay),
        });
    };
    let stop = describe_stop(f);
    // A failure is a sign that the migration ran before only if nothing the trial ran before
    // it created an object that did not exist (in a history applied in order, a database past
    // the failing migration has every object of the ones before it), and if the trial ran
    // every statement before it (otherwise the failure may come from one it could not run).
    if let Some((untried, _)) = &replay.untried_before_failure {
        let why = format!(
            "{stop}, after a statement the trial could not run ({untried}), so the trial cannot \
             tell whether that failure is the database's or the trial's"
        );
        return Ok(Trial::Stops(why, replay));
    }
    if let Some(fresh) = created_before(&replay.evidence, f) {
        let why = format!(
            "{fresh}, so this database is not past it, and then {stop}: a run stops there \
             whatever is stamped, until that failure is fixed"
        );
        return Ok(Trial::Stops(why, replay));
    }
    Ok(Trial::Past {
        version: f.version.clone(),
        seen: stop,
        replay,
    })
}

/// What to do after a failed adoption, starting from the newest migration whose objects the
/// replay found present: the database has been migrated at least that far, so no stamp older
/// than it is ever suggested.
///
/// Migrations after it may have run too without leaving anything a replay can find
/// (`IF NOT EXISTS`, data changes, `ALTER … TYPE`), so each candidate is tried: the migrations
/// after it are replayed as `run` would apply them after that stamp (with stamp recovery), in a
/// transaction that is always rolled back. If one of them fails although everything before it
/// replayed cleanly, the database is already past the point where it applies — in a history
/// applied in order, it ran before — and the next candidate is that migration. A stamp is
/// suggested only when its trial applies the rest without error; what the trials could not run
/// (statements that cannot share their transaction) is listed as not tried, and so are the
/// migrations after the stamp whose effect the catalog cannot show (see [`checks`]).
fn advise(client: &mut Client, cx: &Context<'_>, replay: &Replay) -> Result<Advice> {
    let pending = cx.pending;
    let Some(seen) = replay.last_seen() else {
        return Ok(Advice {
            why: "no replayed migration found its objects already present, so nothing tells \
                  which of them this database has seen: compare its schema with the migrations \
                  and stamp to the last one it already contains (`migration-sentry stamp --to \
                  VERSION`), then run again"
                .into(),
            ..Advice::default()
        });
    };
    let mut k = position(pending, &seen.version);
    let mut why = format!(
        "{} is the newest migration whose objects the replay found already present, so this \
         database has been migrated at least that far",
        pending[k].version
    );
    // Partly applied (a hot patch of some of its objects): `run` completes it, stamp recovery
    // skipping what exists, if the stamp stops just before it.
    if !seen.created.is_empty() {
        why.push_str(&format!(
            " — but only partly: {} created objects that did not exist ({})",
            seen.version, seen.created[0]
        ));
        if k == 0 {
            why.push_str(
                ", and it is the first migration: no stamp is needed for it, a run completes \
                 it (stamp recovery skips what exists) once nothing else stops the adoption",
            );
            return Ok(Advice {
                why,
                ..Advice::default()
            });
        }
        k -= 1;
        why.push_str(&format!(
            ", so the stamp stops before it, at {}, and `run` completes it (stamp recovery \
             skips what exists)",
            pending[k].version
        ));
    }
    let mut untried: Vec<(String, String)> = Vec::new();
    for trial_number in 1..=TRIALS {
        let rest = pending.len() - k - 1;
        if rest == 0 {
            why.push_str(", and it is the last migration: nothing after it runs");
            return Ok(Advice {
                stamp: Some(pending[k].version.clone()),
                why,
                untried,
                check: Vec::new(),
            });
        }
        let found = trial(client, cx, k)?;
        let (version, seen, replay) = match found {
            Trial::Clean(replay) => {
                let limits = replay.not_run();
                why.push_str(&format!(
                    "; a trial (rolled back) of the {rest} migration(s) after {}, applied as \
                     `run` would apply them, ran without error{}",
                    pending[k].version,
                    if limits.is_empty() {
                        String::new()
                    } else {
                        format!(
                            ", apart from {} statement(s) it could not run (not tried, for the \
                             reason given with each)",
                            limits.len()
                        )
                    }
                ));
                extend_new(&mut untried, limits);
                let check = checks(client, cx, &replay)?;
                return Ok(Advice {
                    stamp: Some(pending[k].version.clone()),
                    why,
                    untried,
                    check,
                });
            }
            Trial::Stops(stop, replay) => {
                why.push_str(&format!(
                    ". A trial (rolled back) of the migrations after {}, applied as `run` would \
                     apply them: {stop}. So no stamp was found that a trial shows applying the \
                     rest",
                    pending[k].version
                ));
                extend_new(&mut untried, replay.not_run());
                return Ok(Advice {
                    stamp: None,
                    why,
                    untried,
                    check: Vec::new(),
                });
            }
            Trial::Past {
                version,
                seen,
                replay,
            } => (version, seen, replay),
        };
        extend_new(&mut untried, replay.not_run());
        let j = position(pending, &version);
        let clean = if j > k + 1 {
            format!(
                "{} … {} replayed without error, then ",
                pending[k + 1].version,
                pending[j - 1].version
            )
        } else {
            String::new()
        };
        why.push_str(&format!(
            ". A trial (rolled back) of the migrations after {}, applied as `run` would apply \
             them: {clean}{seen}, which suggests that {version} ran before (check that statement \
             against the database before stamping; if {version} ran, so did everything before \
             it)",
            pending[k].version
        ));
        k = j;
        if trial_number == TRIALS {
            why.push_str(&format!(
                ". The sentry stopped after {TRIALS} trials: the migrations after {version} were \
                 not tried, so no stamp is suggested"
            ));
        }
    }
    Ok(Advice {
        stamp: None,
        why,
        untried,
        check: Vec::new(),
    })
}

fn extend_new<T: PartialEq>(list: &mut Vec<T>, more: Vec<T>) {
    for item in more {
        if !list.contains(&item) {
            list.push(item);
        }
    }
}

/// The migrations after a stamp that no trial can vouch for: `run` applies them again, they
/// hold statements that leave nothing a replay can find, and nothing says they did not run
/// before — they come before the first wholly new migration of the stamp's trial `clean` (a
/// partly applied one is among them). Stamping one of them instead is tried for up to
/// [`ALTERNATIVES`] of them, newest first.
fn checks(client: &mut Client, cx: &Context<'_>, clean: &Replay) -> Result<Vec<Check>> {
    let pending = cx.pending;
    let to = first_new(&clean.evidence);
    let mut list: Vec<Check> = clean.evidence[..to]
        .iter()
        .filter(|e| !e.invisible.is_empty())
        .map(|e| Check {
            version: e.version.clone(),
            statements: e.invisible.clone(),
            instead: None,
        })
        .collect();
    for c in list.iter_mut().rev().take(ALTERNATIVES) {
        let j = position(pending, &c.version);
        if j + 1 == pending.len() {
            c.instead = Some("it is the last migration, nothing would run after it".into());
            continue;
        }
        c.instead = Some(match trial(client, cx, j)? {
            Trial::Clean(_) => "a trial (rolled back) of the migrations after it ran \
                                    without error"
                .into(),
            Trial::Past { seen, .. } => format!(
                "a trial (rolled back) of the migrations after it shows more: {seen}, so \
                     that stamp is not enough"
            ),
            Trial::Stops(stop, _) => format!(
                "a trial (rolled back) of the migrations after it: {stop}, so that stamp is \
                     not enough"
            ),
        });
    }
    Ok(list)
}

/// The first statement a trial ran before the failure `f` that created an object that did not
/// exist, described: in an earlier migration, or earlier in the failing one.
fn created_before(evidence: &[Evidence], f: &StatementFailure) -> Option<String> {
    for e in evidence {
        let before_failure = if e.version == f.version {
            e.created_lines
                .iter()
                .position(|&l| f.line.is_none_or(|failed| l < failed))
        } else {
            (!e.created.is_empty()).then_some(0)
        };
        if let Some(i) = before_failure {
            return Some(format!(
                "{} created objects that did not exist ({})",
                e.version, e.created[i]
            ));
        }
        if e.version == f.version {
            break;
        }
    }
    None
}

/// `0080_x failed at file:2 (SQLSTATE 42883: …)`, for a trial's account.
fn describe_stop(f: &StatementFailure) -> String {
    format!(
        "{} failed at {}{} (SQLSTATE {}: {})",
        f.version,
        f.file.display(),
        f.line.map(|l| format!(":{l}")).unwrap_or_default(),
        f.sqlstate,
        f.message
    )
}

/// Replays `ms` in one transaction, each statement under a savepoint, and returns the
/// transaction, still open, with what the replay saw: the caller commits or rolls back.
///
/// A no-transaction migration's statements are replayed in that transaction too, except those
/// that manage a transaction (a golang-migrate file's own `BEGIN` and `COMMIT`, which would end
/// the replay's): whatever cannot run in a transaction block is then noted as not run.
///
/// Unless `to_commit`, a statement whose effect a rollback would not undo (a `setval`, which
/// could move a live sequence back) is left out and noted: only a replay about to be committed
/// runs it.
fn replay<'c>(
    client: &'c mut Client,
    cx: &Context<'_>,
    ms: &[&Migration],
    to_commit: bool,
) -> Result<(Transaction<'c>, Replay)> {
    let (table, s, baseline) = (cx.table, cx.s, cx.baseline);
    let mut tx = client
        .transaction()
        .map_err(|e| Error::db("starting the adoption transaction", &e))?;
    apply::set_timeouts(&mut tx, s, Some(true))?;
    let created;
    let table = if cx.create_table {
        info!(
            "creating the tracking table {} (in the adoption's transaction)",
            table.qualified
        );
        tracking::create(&mut tx, table)?;
        created = tracking::with_columns(&mut tx, table)?;
        &created
    } else {
        table
    };
    let mut result = Replay::default();
    let mut first_untried: Option<(String, String)> = None;
    for m in ms {
        info!("→ {} (adoption replay)", m.version);
        let loaded = Loaded::read(m)?;
        let statements = apply::split(&loaded)?;
        let started = Instant::now();
        let mut ev = Evidence {
            version: m.version.clone(),
            statements: statements.len(),
            no_transaction: m.no_transaction,
            ..Evidence::default()
        };
        for (i, st) in statements.iter().enumerate() {
            if let Some(what) = evidence::invisible_effect(st.sql) {
                ev.invisible
                    .push(format!("{} {what}: {}", place(&loaded, st), first_line(st)));
            }
            if m.no_transaction && contents::manages_transaction(&sql_split::tokens(st.sql)) {
                continue;
            }
            if !to_commit && evidence::survives_rollback(st.sql) {
                ev.deferred.push((
                    format!("{} {}", place(&loaded, st), first_line(st)),
                    "a setval changes its sequence for good, even in a transaction that is \
                     rolled back, so a trial never runs it; a real run does"
                        .into(),
                ));
                // What follows may depend on it: a failure after it proves nothing.
                if first_untried.is_none() {
                    first_untried = ev.deferred.last().cloned();
                }
                continue;
            }
            // After a failure the replay goes on, only looking: how far the rest of the history
            // is already in the database is what justifies a `stamp --to` suggestion. Nothing
            // of it will be committed.
            let failure = replay_statement(&mut tx, cx, &loaded, st, &statements[..i], &mut ev)?;
            if first_untried.is_none() {
                first_untried = ev.untried.first().cloned();
            }
            if let Some(failure) = failure
                && result.failure.is_none()
            {
                warn!(
                    "{} failed: the adoption will be rolled back; replaying the rest only to see \
                     how far this database already is",
                    m.version
                );
                result.failure = Some(failure);
                result.untried_before_failure = first_untried.clone();
            }
        }
        // Each migration starts with the settings the run started with; the replay's own
        // SET LOCAL timeouts are set again after a restore put them back to the session's.
        if !baseline
            .restore(&mut tx, &m.version, &OWN_SETTINGS)?
            .is_empty()
        {
            apply::set_timeouts(&mut tx, s, Some(true))?;
        }
        if result.failure.is_none() {
            let outcome = apply::record(&mut tx, table, &loaded, started.elapsed(), &ev.skipped)?;
            result.outcomes.push(outcome);
        }
        result.evidence.push(ev);
    }
    Ok((tx, result))
}

/// `file:line` of a statement.
fn place(m: &Loaded<'_>, st: &Statement<'_>) -> String {
    format!("{}:{}", m.path.display(), st.line)
}

/// A statement's first line, as a report quotes it.
fn first_line(st: &Statement<'_>) -> String {
    crate::output::esc(st.sql.lines().next().unwrap_or_default()).into_owned()
}

/// Why a statement that failed with `code` in the replay would not fail in a real run, which
/// commits each migration on its own and runs a no-transaction migration's statements outside
/// any transaction; `None` when it would fail there too. `earlier`: the statements before it in
/// its migration.
fn trial_limit(
    code: &str,
    no_transaction: bool,
    earlier: &[Statement<'_>],
) -> Option<&'static str> {
    match code {
        // active_sql_transaction (CREATE INDEX CONCURRENTLY, VACUUM …), and a procedure's
        // COMMIT (invalid_transaction_termination): in a transactional migration, a real run
        // fails the same way.
        "25001" | "2D000" if no_transaction => Some(
            "it cannot run inside a transaction block; a real run runs this no-transaction \
             migration's statements outside one",
        ),
        // unsafe_new_enum_value_usage: the value was added earlier in the replay's
        // transaction. A real run has committed it by then — unless this very (transactional)
        // migration adds it.
        "55P04" if no_transaction || !earlier.iter().any(|e| evidence::adds_enum_value(e.sql)) => {
            Some(
                "it uses an enum value that an earlier migration adds, which PostgreSQL allows \
                 only once the transaction that added it has committed; a real run commits that \
                 migration first",
            )
        }
        // out_of_memory, in practice the lock table (max_locks_per_transaction): the replay
        // holds the locks of every migration at once.
        "53200" => Some(
            "the replay ran out of shared memory holding the locks of every migration in one \
             transaction (max_locks_per_transaction); a real run releases them at each \
             migration's commit",
        ),
        _ => None,
    }
}

/// Runs one statement under a savepoint, which an error rolls back to, so that the replay can
/// go on looking. Returns the statement's failure if it failed and could not be skipped;
/// a failure that only the replay's single transaction causes is noted in `ev.untried`.
fn replay_statement(
    tx: &mut Transaction<'_>,
    cx: &Context<'_>,
    m: &Loaded<'_>,
    st: &Statement<'_>,
    earlier: &[Statement<'_>],
    ev: &mut Evidence,
) -> Result<Option<StatementFailure>> {
    let s = cx.s;
    // `IF NOT EXISTS` succeeds either way: whether its objects were there is in the catalog,
    // looked up before it runs.
    let guarded: Vec<(evidence::Guarded, Presence)> = evidence::guarded_objects(st.sql)
        .into_iter()
        .map(|object| presence(tx, &object).map(|p| (object, p)))
        .collect::<Result<_>>()?;
    tx.batch_execute("SAVEPOINT sentry_statement")
        .map_err(|e| Error::db("creating a savepoint", &e))?;
    // A migration's statement may rightly run long: watched by probes, not the watchdog.
    let result = {
        let _long = crate::interrupt::long(&format!("adopting {} (line {})", m.version, st.line))?;
        tx.batch_execute(st.sql)
    };
    let err = match result {
        Ok(()) => {
            tx.batch_execute("RELEASE SAVEPOINT sentry_statement")
                .map_err(|e| Error::db("releasing a savepoint", &e))?;
            let plainly = evidence::creates_something(st.sql);
            if plainly || guarded.iter().any(|(_, p)| *p == Presence::Missing) {
                let entry = format!("{} {}", place(m, st), first_line(st));
                if plainly {
                    ev.plainly_created.push(entry.clone());
                }
                ev.created_lines.push(st.line);
                ev.created.push(entry);
            }
            if let Some((object, _)) = guarded
                .iter()
                .find(|(o, p)| *p == Presence::FromBefore && cx.owns(&m.version, o))
            {
                ev.existed.push(format!(
                    "{} {} was already there (IF NOT EXISTS left it as it was)",
                    place(m, st),
                    crate::output::esc(&object.to_string())
                ));
            }
            return Ok(None);
        }
        Err(err) => err,
    };
    let code = apply::statement_error(&err, &m.version, "adopting")?
        .code()
        .code()
        .to_string();
    tx.batch_execute("ROLLBACK TO SAVEPOINT sentry_statement; RELEASE SAVEPOINT sentry_statement")
        .map_err(|e| Error::db("rolling back to a savepoint", &e))?;
    let entry = apply::skip_entry(m, st, &err);
    // Only "already exists" is evidence: a unique violation, say, may come from seed rows an
    // earlier migration of this very replay inserted. (Nor is an `IF NOT EXISTS` notice: the
    // object may come from an earlier migration of the replay. A plain CREATE that fails here
    // fails in a fresh apply too, unless its object existed before the replay.)
    if ALREADY_EXISTS.contains(&code.as_str()) {
        ev.existed.push(entry.clone());
        if s.stamp_recovery {
            warn!("stamp recovery skipped {entry}");
            ev.skipped.push(entry);
            return Ok(None);
        }
    } else if let Some(why) = trial_limit(&code, m.no_transaction, earlier) {
        warn!("the adoption replay cannot run {entry}: {why}");
        ev.untried.push((entry, why.to_string()));
        // An index the replay cannot build concurrently may be in the catalog already: that
        // is the evidence the statement would have given.
        let index = evidence::concurrent_index(st.sql).map(evidence::Guarded::Relation);
        if let Some(index) = index
            && cx.owns(&m.version, &index)
            && presence(tx, &index)? == Presence::FromBefore
        {
            ev.existed.push(format!(
                "{} index {} exists (found in the catalog: CREATE INDEX CONCURRENTLY cannot run \
                 in the replay's transaction)",
                place(m, st),
                crate::output::esc(&index.to_string())
            ));
        }
        return Ok(None);
    }
    ev.failed += 1;
    Ok(Some(apply::describe(&m.script(), &err, Some(st))))
}

/// Whether an object is in the catalog, and since when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Presence {
    Missing,
    /// There before the replay began: a migration's earlier run, or someone's, made it.
    FromBefore,
    /// Made by the replay itself, an earlier statement of it; or an invalid index (a failed
    /// concurrent build), which tells nothing either way.
    Other,
}

/// Where `object` stands: its catalog row was written by the replay's own transaction when
/// `age(xmin)` is not positive (rows it wrote carry its own or later transaction ids).
fn presence(tx: &mut Transaction<'_>, object: &evidence::Guarded) -> Result<Presence> {
    let none = String::new();
    let (relation, column) = match object {
        evidence::Guarded::Relation(r) => (r, &none),
        evidence::Guarded::Column { table, column } => (table, column),
    };
    let rows = tx
        .traced(
            "SELECT coalesce(CASE WHEN $2 = '' THEN \
               (SELECT CASE WHEN NOT coalesce((SELECT i.indisvalid FROM pg_index i \
                                               WHERE i.indexrelid = c.oid), true) THEN 'other' \
                            WHEN age(c.xmin) > 0 THEN 'before' ELSE 'other' END \
                FROM pg_class c WHERE c.oid = to_regclass($1)) \
             ELSE \
               (SELECT CASE WHEN age(a.xmin) > 0 THEN 'before' ELSE 'other' END \
                FROM pg_attribute a \
                WHERE a.attrelid = to_regclass($1) AND a.attname = $2 AND NOT a.attisdropped) \
             END, 'missing')",
            &[
                (relation as &(dyn ToSql + Sync), Type::TEXT),
                (column as &(dyn ToSql + Sync), Type::TEXT),
            ],
        )
        .map_err(|e| Error::db("looking up an object of a replayed migration", &e))?;
    let found: Option<String> = rows.first().and_then(|r| r.try_get(0).ok());
    Ok(match found.as_deref() {
        Some("before") => Presence::FromBefore,
        Some("missing") => Presence::Missing,
        _ => Presence::Other,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(version: &str, existed: usize, created: usize) -> Evidence {
        Evidence {
            version: version.into(),
            existed: (0..existed).map(|i| format!("e{i}")).collect(),
            created: (0..created).map(|i| format!("c{i}")).collect(),
            created_lines: (0..created).map(|i| i + 1).collect(),
            plainly_created: (0..created).map(|i| format!("c{i}")).collect(),
            statements: existed + created,
            ..Evidence::default()
        }
    }

    fn with_invisible(mut e: Evidence) -> Evidence {
        e.invisible = vec![format!("{}.sql:1 a data change: INSERT …", e.version)];
        e
    }

    fn replay_of(evidence: Vec<Evidence>) -> Replay {
        Replay {
            evidence,
            ..Replay::default()
        }
    }

    #[test]
    fn a_prefix_applied_before_is_consistent() {
        let r = replay_of(vec![
            ev("1", 2, 0),
            ev("2", 1, 1),
            ev("3", 0, 2),
            ev("4", 0, 0),
        ]);
        assert!(r.inconsistency().is_none());
        assert_eq!(r.last_seen().unwrap().version, "2");
        assert!(replay_of(vec![ev("1", 0, 1)]).last_seen().is_none());
    }

    #[test]
    fn a_failure_is_a_sign_of_a_past_run_only_if_nothing_before_it_was_new() {
        let failure = |version: &str, line: usize| StatementFailure {
            version: version.into(),
            line: Some(line),
            ..StatementFailure::default()
        };
        // Idempotent migrations, then the failure: nothing says the database is not past it.
        let idempotent = vec![ev("51", 0, 0), ev("52", 0, 0), ev("80", 0, 0)];
        assert_eq!(created_before(&idempotent, &failure("80", 2)), None);
        // A migration before it created something new: the database is not past that one.
        let fresh = vec![ev("51", 0, 0), ev("52", 0, 1), ev("80", 0, 0)];
        assert_eq!(
            created_before(&fresh, &failure("80", 2)).as_deref(),
            Some("52 created objects that did not exist (c0)")
        );
        // In the failing migration itself: only statements before the failing one count.
        let own = vec![ev("51", 0, 0), ev("80", 0, 2)];
        assert_eq!(created_before(&own, &failure("80", 1)), None);
        assert!(created_before(&own, &failure("80", 2)).is_some());
        // What comes after the failing migration does not count.
        let after = vec![ev("80", 0, 0), ev("81", 0, 1)];
        assert_eq!(created_before(&after, &failure("80", 5)), None);
    }

    #[test]
    fn new_objects_before_existing_ones_are_inconsistent() {
        let r = replay_of(vec![
            ev("1", 1, 1),
            ev("2", 0, 1),
            ev("3", 1, 0),
            ev("4", 0, 1),
        ]);
        let why = r.inconsistency().unwrap();
        assert!(why.starts_with("1 created objects"), "{why}");
        assert!(why.contains("the later 3 found"), "{why}");
        assert_eq!(r.last_seen().unwrap().version, "3");
    }

    #[test]
    fn what_the_catalog_cannot_show_is_never_replayed_where_it_may_have_run() {
        // Up to the newest migration with objects present, it ran: its INSERT would run twice.
        let seen = replay_of(vec![
            with_invisible(ev("1", 1, 0)),
            ev("2", 1, 0),
            ev("3", 0, 1),
        ]);
        let why = seen.reruns().unwrap();
        assert!(why.contains("2 has objects present"), "{why}");
        assert!(
            why.contains("1.sql:1 a data change: INSERT … in 1"),
            "{why}"
        );
        // After it, until a migration creates something, it may have run.
        let unseen = replay_of(vec![
            ev("1", 1, 0),
            with_invisible(ev("2", 0, 0)),
            ev("3", 0, 1),
        ]);
        assert!(
            unseen
                .reruns()
                .unwrap()
                .contains(": 2.sql:1 a data change: INSERT … in 2")
        );
        assert_eq!(unseen.unseen_after_last_seen(), 1..2);
        // From the first migration that created something on, nothing ran before.
        let fresh = replay_of(vec![
            ev("1", 1, 0),
            ev("2", 0, 1),
            with_invisible(ev("3", 0, 0)),
        ]);
        assert_eq!(fresh.reruns(), None);
        // Nothing of the history found present: nothing tells that any of it ran.
        let unrelated = replay_of(vec![with_invisible(ev("1", 0, 0))]);
        assert_eq!(unrelated.reruns(), None);
    }

    #[test]
    fn a_partly_applied_migration_did_not_run_as_a_whole() {
        // 2 has objects present and created others (a hot patch of some of them): its own
        // INSERT, and what follows it, are not a second run.
        let partial = replay_of(vec![
            ev("1", 1, 0),
            with_invisible(ev("2", 1, 1)),
            with_invisible(ev("3", 0, 0)),
        ]);
        assert_eq!(partial.reruns(), None);
        // What comes before it ran.
        let before = replay_of(vec![with_invisible(ev("1", 1, 0)), ev("2", 1, 1)]);
        assert!(before.reruns().unwrap().contains("in 1"));
    }

    #[test]
    fn only_failures_the_single_transaction_causes_are_limits_of_the_trial() {
        let adds = sql_split::split("ALTER TYPE s ADD VALUE 'x'; UPDATE t SET s = 'x'").unwrap();
        let plain = sql_split::split("UPDATE t SET s = 'x'").unwrap();
        // A value an earlier migration added: a real run has committed it.
        assert!(trial_limit("55P04", false, &plain[..0]).is_some());
        // Added by the same transactional migration: a real run fails the same way.
        assert!(trial_limit("55P04", false, &adds[..1]).is_none());
        // …but not in a no-transaction one, whose statements commit one by one.
        assert!(trial_limit("55P04", true, &adds[..1]).is_some());
        // CREATE INDEX CONCURRENTLY in a transaction block: only a no-transaction migration's
        // statement runs outside one for real.
        assert!(trial_limit("25001", true, &[]).is_some());
        assert!(trial_limit("25001", false, &[]).is_none());
        assert!(trial_limit("53200", false, &[]).is_some());
        assert!(trial_limit("23505", true, &[]).is_none());
        assert!(trial_limit("42P01", false, &[]).is_none());
    }
}
