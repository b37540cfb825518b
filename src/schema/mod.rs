//! The required schema (SPEC §6): what the application needs to find in the database, and
//! whether it is there.
//!
//! This folder owns the [`Requirement`]s and their check, one concept per file:
//! - `parse.rs`: the required-schema file format ([`parse()`]) and the `--require` flag
//!   ([`parse_require`]);
//! - `types.rs`: the normalisation of PostgreSQL type names to the spelling `format_type()`
//!   prints ([`normalize_type`]);
//! - `ident.rs`: identifier quoting for the labels and hints ([`quote_ident`]);
//! - `catalog.rs`: the read-only verification against a live database ([`verify`]), which
//!   answers every requirement of a kind with one round trip;
//! - `report.rs`: what each check found, as a `✓`/`✗` line with a fix ([`CheckResult`]).

mod catalog;
mod ident;
mod parse;
mod report;
mod types;

use std::fmt;

pub use catalog::verify;
use ident::qualified;
pub use ident::quote_ident;
pub use parse::{parse, parse_require};
pub use report::CheckResult;
pub use types::normalize_type;

/// The schema a name defaults to when it is not qualified.
pub const DEFAULT_SCHEMA: &str = "public";

/// One line of the required-schema file. Names are stored as PostgreSQL stores them: unquoted
/// names folded to lower case, quoted names verbatim (without the quotes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requirement {
    /// A column, optionally with a type (already [`normalize_type`]d) and a nullability
    /// (`Some(true)`: must accept NULL; `Some(false)`: must be NOT NULL).
    Column {
        schema: String,
        table: String,
        column: String,
        data_type: Option<String>,
        nullable: Option<bool>,
    },
    /// An index, by name (index names are unique per schema).
    Index { schema: String, name: String },
    /// A constraint of a table, by name.
    Constraint {
        schema: String,
        table: String,
        name: String,
    },
    /// A table (ordinary, partitioned or foreign).
    Table { schema: String, table: String },
}

impl Requirement {
    /// The requirement's key, e.g. `column public.proposals.visitor_session_id`: used in the
    /// `✓`/`✗` lines and as the key of the `checks` object of `status --format json`. Names
    /// that need quoting are quoted, so the label is unambiguous.
    pub fn label(&self) -> String {
        match self {
            Requirement::Column {
                schema,
                table,
                column,
                ..
            } => format!(
                "column {}.{}",
                qualified(schema, table),
                quote_ident(column)
            ),
            Requirement::Index { schema, name } => format!("index {}", qualified(schema, name)),
            Requirement::Constraint {
                schema,
                table,
                name,
            } => format!(
                "constraint {}.{}",
                qualified(schema, table),
                quote_ident(name)
            ),
            Requirement::Table { schema, table } => format!("table {}", qualified(schema, table)),
        }
    }

    /// What is expected beyond existence, as printed after the label: the normalised type and
    /// the nullability of a column (`character varying(64) null`); empty otherwise.
    pub fn expected(&self) -> String {
        match self {
            Requirement::Column {
                data_type,
                nullable,
                ..
            } => {
                let mut parts: Vec<&str> = Vec::new();
                if let Some(t) = data_type {
                    parts.push(t);
                }
                match nullable {
                    Some(true) => parts.push("null"),
                    Some(false) => parts.push("not null"),
                    None => {}
                }
                parts.join(" ")
            }
            _ => String::new(),
        }
    }
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label())?;
        let e = self.expected();
        if !e.is_empty() {
            write!(f, " {e}")?;
        }
        Ok(())
    }
}

/// A column requirement, for the tests of every file in this folder.
#[cfg(test)]
fn col(schema: &str, table: &str, column: &str, ty: Option<&str>, n: Option<bool>) -> Requirement {
    Requirement::Column {
        schema: schema.into(),
        table: table.into(),
        column: column.into(),
        data_type: ty.map(String::from),
        nullable: n,
    }
}
