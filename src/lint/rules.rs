//! Which of squawk's rules the sentry runs, and what each one means for a deploy (SPEC §5.5).
//!
//! Every rule of the pinned `squawk-linter` is classified here, once: the **blocking** set
//! (an operation whose lock lasts as long as a rewrite or a scan of the table, so its cost
//! grows with the table: these fail `run` on a big existing table), **warnings** (data loss,
//! compatibility, correctness: reported, errors only under `--strict`), and **off** (style,
//! or what the sentry already enforces itself). docs/operations.md carries the same table;
//! a unit test checks that every rule squawk enables by default is classified, so a version
//! bump cannot slip a rule in unreviewed.

use squawk_linter::Rule;

/// The pseudo-rule of a statement squawk's parser cannot read.
pub const SYNTAX_ERROR: &str = "syntax-error";

/// What a rule's finding does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Lock held for the length of a rewrite or a scan: blocks `run` on a big existing table.
    Blocking(&'static Blocking),
    /// Reported; an error only under `--strict`.
    Warning,
    /// Not run.
    Off,
}

/// What the sentry says about a blocking rule's operation on a big table.
#[derive(Debug, PartialEq, Eq)]
pub struct Blocking {
    /// The lock the statement takes and for how long.
    pub lock: &'static str,
    /// The way to write it that does not hold that lock for long.
    pub safe_pattern: &'static str,
}

/// One rule: squawk's name, its class, and why (the docs' one-line reason).
pub struct RuleInfo {
    pub name: &'static str,
    pub class: Class,
    pub reason: &'static str,
}

const CONCURRENT_INDEX: Blocking = Blocking {
    lock: "a SHARE lock (every INSERT, UPDATE and DELETE waits) for the whole index build",
    safe_pattern: "CREATE INDEX CONCURRENTLY, alone in a migration whose first line is \
                   `-- sentry:no-transaction`",
};
const TYPE_CHANGE: Blocking = Blocking {
    lock: "an ACCESS EXCLUSIVE lock (reads and writes wait) while the table and its indexes are \
           rewritten",
    safe_pattern: "add a new column of the new type, backfill it in batches, move the \
                   application to it, then drop the old column (varchar(n) to a larger n or \
                   to text is cheap: accept it with `-- sentry:allow changing-column-type`)",
};
const NOT_VALID: Blocking = Blocking {
    lock: "an ACCESS EXCLUSIVE (CHECK) or SHARE ROW EXCLUSIVE (FOREIGN KEY) lock while every row \
           is checked",
    safe_pattern: "ADD CONSTRAINT … NOT VALID in one migration, then ALTER TABLE … VALIDATE \
                   CONSTRAINT in the next (it only takes SHARE UPDATE EXCLUSIVE)",
};
const FOREIGN_KEY: Blocking = Blocking {
    lock: "a SHARE ROW EXCLUSIVE lock on both tables (writes wait) while every row is checked",
    safe_pattern: "ADD CONSTRAINT … FOREIGN KEY … NOT VALID in one migration, then VALIDATE \
                   CONSTRAINT in the next",
};
const SET_NOT_NULL: Blocking = Blocking {
    lock: "an ACCESS EXCLUSIVE lock (reads and writes wait) while every row is scanned",
    safe_pattern: "add the column nullable, backfill, then ADD CONSTRAINT … CHECK (col IS NOT \
                   NULL) NOT VALID, VALIDATE CONSTRAINT, and only then SET NOT NULL (PostgreSQL \
                   12+ skips the scan) and drop the check",
};
const VOLATILE_DEFAULT: Blocking = Blocking {
    lock: "an ACCESS EXCLUSIVE lock (reads and writes wait) while the table is rewritten",
    safe_pattern: "add the column nullable without a default (a constant default is free since \
                   PostgreSQL 11), backfill in batches, then set the default and NOT NULL",
};
const UNIQUE_INDEX: Blocking = Blocking {
    lock: "an ACCESS EXCLUSIVE lock (reads and writes wait) while the unique index is built",
    safe_pattern: "CREATE UNIQUE INDEX CONCURRENTLY in a `-- sentry:no-transaction` migration, \
                   then ADD CONSTRAINT … UNIQUE / PRIMARY KEY USING INDEX",
};
const REINDEX: Blocking = Blocking {
    lock: "an ACCESS EXCLUSIVE lock on the index and SHARE on the table (writes wait) for the \
           whole rebuild",
    safe_pattern: "REINDEX … CONCURRENTLY in a `-- sentry:no-transaction` migration",
};

use Class::{Blocking as B, Off, Warning as W};

/// Every rule of squawk-linter 2.68, classified.
pub const RULES: &[RuleInfo] = &[
    // The blocking set: lock held for a rewrite or a scan, cost grows with the table.
    RuleInfo {
        name: "require-concurrent-index-creation",
        class: B(&CONCURRENT_INDEX),
        reason: "CREATE INDEX blocks writes for the whole build",
    },
    RuleInfo {
        name: "changing-column-type",
        class: B(&TYPE_CHANGE),
        reason: "a type change rewrites the table under ACCESS EXCLUSIVE",
    },
    RuleInfo {
        name: "constraint-missing-not-valid",
        class: B(&NOT_VALID),
        reason: "a constraint without NOT VALID checks every row under lock",
    },
    RuleInfo {
        name: "adding-foreign-key-constraint",
        class: B(&FOREIGN_KEY),
        reason: "a foreign key without NOT VALID checks every row, locking both tables",
    },
    RuleInfo {
        name: "adding-not-nullable-field",
        class: B(&SET_NOT_NULL),
        reason: "SET NOT NULL scans every row under ACCESS EXCLUSIVE",
    },
    RuleInfo {
        name: "adding-field-with-default",
        class: B(&VOLATILE_DEFAULT),
        reason: "a volatile default rewrites the table under ACCESS EXCLUSIVE",
    },
    RuleInfo {
        name: "adding-serial-primary-key-field",
        class: B(&UNIQUE_INDEX),
        reason: "ADD PRIMARY KEY builds its index under ACCESS EXCLUSIVE",
    },
    RuleInfo {
        name: "disallowed-unique-constraint",
        class: B(&UNIQUE_INDEX),
        reason: "ADD UNIQUE builds its index under ACCESS EXCLUSIVE",
    },
    RuleInfo {
        name: "require-concurrent-reindex",
        class: B(&REINDEX),
        reason: "REINDEX blocks writes for the whole rebuild",
    },
    // Warnings: data loss and compatibility (errors under --strict), short locks, correctness.
    RuleInfo {
        name: "ban-drop-column",
        class: W,
        reason: "data loss; old application code still selects the column",
    },
    RuleInfo {
        name: "ban-drop-table",
        class: W,
        reason: "data loss",
    },
    RuleInfo {
        name: "ban-drop-database",
        class: W,
        reason: "data loss",
    },
    RuleInfo {
        name: "ban-drop-schema",
        class: W,
        reason: "data loss",
    },
    RuleInfo {
        name: "ban-truncate-cascade",
        class: W,
        reason: "data loss in tables the statement does not name",
    },
    RuleInfo {
        name: "ban-drop-sequence",
        class: W,
        reason: "breaks defaults and inserts that use it",
    },
    RuleInfo {
        name: "ban-drop-type",
        class: W,
        reason: "breaks columns and code that use it",
    },
    RuleInfo {
        name: "ban-drop-domain",
        class: W,
        reason: "breaks columns and code that use it",
    },
    RuleInfo {
        name: "ban-drop-view",
        class: W,
        reason: "breaks the application's queries",
    },
    RuleInfo {
        name: "ban-drop-function",
        class: W,
        reason: "breaks the application's queries",
    },
    RuleInfo {
        name: "ban-drop-extension",
        class: W,
        reason: "drops what depends on it",
    },
    RuleInfo {
        name: "ban-drop-not-null",
        class: W,
        reason: "old application code may rely on it",
    },
    RuleInfo {
        name: "ban-drop-default",
        class: W,
        reason: "old application code may rely on it",
    },
    RuleInfo {
        name: "ban-drop-constraint",
        class: W,
        reason: "old application code may rely on it",
    },
    RuleInfo {
        name: "ban-drop-generated-expression",
        class: W,
        reason: "old application code may rely on it",
    },
    RuleInfo {
        name: "ban-alter-identity",
        class: W,
        reason: "changes how inserts get their ids",
    },
    RuleInfo {
        name: "ban-set-schema",
        class: W,
        reason: "old application code still uses the old name",
    },
    RuleInfo {
        name: "renaming-column",
        class: W,
        reason: "old application code still uses the old name",
    },
    RuleInfo {
        name: "renaming-table",
        class: W,
        reason: "old application code still uses the old name",
    },
    RuleInfo {
        name: "renaming-object",
        class: W,
        reason: "old application code still uses the old name",
    },
    RuleInfo {
        name: "adding-required-field",
        class: W,
        reason: "NOT NULL without a default fails on a table with rows (the server refuses it, atomically)",
    },
    RuleInfo {
        name: "require-concurrent-index-deletion",
        class: W,
        reason: "DROP INDEX takes ACCESS EXCLUSIVE, but briefly, bounded by --lock-timeout",
    },
    RuleInfo {
        name: "require-concurrent-partition-detach",
        class: W,
        reason: "DETACH PARTITION takes ACCESS EXCLUSIVE, but briefly, bounded by --lock-timeout",
    },
    RuleInfo {
        name: "ban-create-domain-with-constraint",
        class: W,
        reason: "the constraint is checked on every column of the domain; squawk cannot name the tables",
    },
    RuleInfo {
        name: "ban-alter-domain-with-add-constraint",
        class: W,
        reason: "scans every column of the domain; squawk cannot name the tables",
    },
    RuleInfo {
        name: "prefer-robust-stmts",
        class: W,
        reason: "a no-transaction migration is replayed after a failure and must be re-runnable",
    },
    RuleInfo {
        name: "prefer-repack",
        class: W,
        reason: "VACUUM FULL / CLUSTER rewrite the table under ACCESS EXCLUSIVE (squawk flags it from PostgreSQL 19)",
    },
    RuleInfo {
        name: "identifier-too-long",
        class: W,
        reason: "PostgreSQL silently truncates the name to 63 bytes",
    },
    RuleInfo {
        name: "ban-duplicate-column-assignments",
        class: W,
        reason: "the server rejects it",
    },
    RuleInfo {
        name: "unused-ignore",
        class: W,
        reason: "a `squawk-ignore` comment that ignores nothing",
    },
    // Off: style, or enforced by the sentry itself.
    RuleInfo {
        name: "prefer-bigint-over-int",
        class: Off,
        reason: "style (types)",
    },
    RuleInfo {
        name: "prefer-bigint-over-smallint",
        class: Off,
        reason: "style (types)",
    },
    RuleInfo {
        name: "prefer-identity",
        class: Off,
        reason: "style (types)",
    },
    RuleInfo {
        name: "prefer-text-field",
        class: Off,
        reason: "style (types)",
    },
    RuleInfo {
        name: "prefer-timestamp-tz",
        class: Off,
        reason: "style (types)",
    },
    RuleInfo {
        name: "ban-char-field",
        class: Off,
        reason: "style (types)",
    },
    RuleInfo {
        name: "require-enum-value-ordering",
        class: Off,
        reason: "style (enum order)",
    },
    RuleInfo {
        name: "require-table-schema",
        class: Off,
        reason: "style (naming)",
    },
    RuleInfo {
        name: "require-lock-timeout",
        class: Off,
        reason: "the sentry sets lock_timeout itself (--lock-timeout)",
    },
    RuleInfo {
        name: "require-statement-timeout",
        class: Off,
        reason: "the sentry sets statement_timeout itself (--statement-timeout)",
    },
    RuleInfo {
        name: "require-timeout-settings",
        class: Off,
        reason: "the sentry sets both timeouts itself",
    },
    RuleInfo {
        name: "transaction-nesting",
        class: Off,
        reason: "the sentry refuses BEGIN/COMMIT in a transactional migration itself (exit 6)",
    },
    RuleInfo {
        name: "ban-uncommitted-transaction",
        class: Off,
        reason: "the sentry refuses BEGIN/COMMIT in a transactional migration itself (exit 6)",
    },
    RuleInfo {
        name: "ban-concurrent-index-creation-in-transaction",
        class: Off,
        reason: "the sentry refuses CONCURRENTLY in a transactional migration itself (exit 6)",
    },
];

/// squawk's opt-in compatibility rules (`ban-revoke`, `ban-add-column`, …) stay off, as in
/// squawk itself; their names are still valid in `-- sentry:allow`.
pub fn info(name: &str) -> Option<&'static RuleInfo> {
    RULES.iter().find(|r| r.name == name)
}

/// The class of a rule by name; unknown and opt-in rules are off.
pub fn class(name: &str) -> Class {
    info(name).map_or(Class::Off, |r| r.class)
}

/// squawk's rule by name. (`unused-ignore` is printed by squawk but not parsed by its
/// `TryFrom`.)
fn rule(name: &str) -> Option<Rule> {
    match name {
        "unused-ignore" => Some(Rule::UnusedIgnore),
        _ => Rule::try_from(name).ok(),
    }
}

/// Whether `name` is a rule `-- sentry:allow` may name: one of squawk's or `syntax-error`.
pub fn is_known(name: &str) -> bool {
    name == SYNTAX_ERROR || rule(name).is_some()
}

/// The squawk rules the sentry runs: every rule not classified off.
pub fn enabled() -> Vec<Rule> {
    RULES
        .iter()
        .filter(|r| r.class != Class::Off)
        .filter_map(|r| rule(r.name))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_default_squawk_rule_is_classified() {
        for rule in enum_iterator::all::<Rule>() {
            if rule.is_opt_in() {
                continue;
            }
            let name = rule.to_string();
            assert!(
                info(&name).is_some(),
                "squawk rule {name} is not classified in src/lint/rules.rs"
            );
        }
    }

    #[test]
    fn every_classified_name_is_a_squawk_rule() {
        for r in RULES {
            assert!(rule(r.name).is_some(), "{} is not a squawk rule", r.name);
            assert!(!r.reason.is_empty());
        }
        assert_eq!(
            enabled().len(),
            RULES.iter().filter(|r| r.class != Class::Off).count()
        );
    }

    /// docs/operations.md §4.18 carries the same table: one row per rule, class and reason.
    #[test]
    fn the_operations_guide_lists_every_rule_as_classified() {
        let docs = include_str!("../../docs/operations.md");
        for r in RULES {
            let class = match r.class {
                Class::Blocking(_) => "blocking",
                Class::Warning => "warning",
                Class::Off => "off",
            };
            let row = format!("| `{}` | {class} | {} |", r.name, r.reason);
            assert!(
                docs.contains(&row),
                "docs/operations.md lacks the row\n{row}"
            );
        }
    }

    #[test]
    fn known_names() {
        assert!(is_known("changing-column-type"));
        assert!(is_known("syntax-error"));
        assert!(is_known("ban-revoke"));
        assert!(!is_known("changing-colum-type"));
        assert!(matches!(
            class("require-concurrent-index-creation"),
            Class::Blocking(_)
        ));
        assert_eq!(class("ban-drop-column"), Class::Warning);
        assert_eq!(class("prefer-text-field"), Class::Off);
    }
}
