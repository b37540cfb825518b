//! The round trips the sentry makes, traced at `-vv`: typed queries, and [`batch`]es of
//! statements sent as one simple-protocol message.
//!
//! The driver logs simple queries and batches itself (debug level, shown at `-vv`) but not
//! `query_typed`, which the sentry uses for every parameterised query: one round trip, no
//! separate prepare. [`Traced::traced`] is that call plus a trace line.

use postgres::types::{ToSql, Type};
use postgres::{GenericClient, Row, RowIter, SimpleQueryMessage, SimpleQueryRow};

/// `query_typed` with a trace line (`-vv`) naming the SQL and its parameters.
pub trait Traced {
    /// Runs `sql` with typed parameters in one round trip.
    fn traced(
        &mut self,
        sql: &str,
        params: &[(&(dyn ToSql + Sync), Type)],
    ) -> Result<Vec<Row>, postgres::Error>;

    /// The same, streaming: rows are decoded one at a time instead of all held at once.
    fn traced_rows(
        &mut self,
        sql: &str,
        params: &[(&(dyn ToSql + Sync), Type)],
    ) -> Result<RowIter<'_>, postgres::Error>;
}

impl<C: GenericClient> Traced for C {
    fn traced(
        &mut self,
        sql: &str,
        params: &[(&(dyn ToSql + Sync), Type)],
    ) -> Result<Vec<Row>, postgres::Error> {
        trace(sql, params);
        // A quick round trip: the interrupt watchdog bounds it (SPEC §5.7).
        crate::interrupt::tick(&doing(sql));
        self.query_typed(sql, params)
    }

    fn traced_rows(
        &mut self,
        sql: &str,
        params: &[(&(dyn ToSql + Sync), Type)],
    ) -> Result<RowIter<'_>, postgres::Error> {
        trace(sql, params);
        crate::interrupt::tick(&doing(sql));
        self.query_typed_raw(sql, params.iter().map(|(v, t)| (*v, t.clone())))
    }
}

/// What the watchdog's message says the sentry was doing: ``waiting for `SELECT …` ``.
fn doing(sql: &str) -> String {
    format!(
        "waiting for the answer to `{}`",
        short(&sql.split_whitespace().collect::<Vec<_>>().join(" "))
    )
}

fn trace(sql: &str, params: &[(&(dyn ToSql + Sync), Type)]) {
    if log::log_enabled!(log::Level::Trace) {
        let values: Vec<String> = params
            .iter()
            .map(|(v, _)| short(&format!("{v:?}")))
            .collect();
        log::trace!(
            "round trip: {} with [{}]",
            sql.split_whitespace().collect::<Vec<_>>().join(" "),
            values.join(", ")
        );
    }
}

/// Parameter values can be whole rollback scripts: keep the trace line readable.
fn short(text: &str) -> String {
    const MAX: usize = 80;
    match text.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}

/// Runs `statements` as one simple-protocol message: one round trip however many statements,
/// no prepare, every value in text. Returns each statement's rows, in order. For statements
/// without parameters only: the values in them are numbers the sentry formats itself and names
/// quoted by [`crate::tracking`]. The driver logs the message at `-vv` ("executing simple
/// query"). An error in one statement ends the message there and is returned.
pub fn batch(
    client: &mut impl GenericClient,
    statements: &[String],
) -> Result<Vec<Vec<SimpleQueryRow>>, postgres::Error> {
    // One line, so that `-vv` shows the message on one line.
    let sql = statements.join("; ");
    let mut results = Vec::with_capacity(statements.len());
    let mut rows = Vec::new();
    for message in client.simple_query(&sql)? {
        match message {
            SimpleQueryMessage::Row(r) => rows.push(r),
            SimpleQueryMessage::CommandComplete(_) => results.push(std::mem::take(&mut rows)),
            _ => {}
        }
    }
    Ok(results)
}

/// Whether `text` contains `word` (lower-case ASCII) in any letter case, anywhere: a quick
/// lexical test that allocates nothing.
pub fn mentions(text: &str, word: &str) -> bool {
    let (text, word) = (text.as_bytes(), word.as_bytes());
    let Some(&first) = word.first() else {
        return false;
    };
    // Only where the first letter matches is the rest compared.
    text.iter().enumerate().any(|(i, b)| {
        b.to_ascii_lowercase() == first
            && text
                .get(i..i + word.len())
                .is_some_and(|w| w.eq_ignore_ascii_case(word))
    })
}

/// `text` as an SQL string literal, for statements that travel in one simple-protocol message
/// (which has no parameters). The `E'…'` form: its escapes do not depend on
/// `standard_conforming_strings`, which a migration may have changed for the session.
pub fn literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 3);
    out.push_str("E'");
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("''"),
            _ => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// [`literal`], or `NULL`.
pub fn literal_or_null(text: Option<&str>) -> String {
    text.map_or_else(|| "NULL".to_string(), literal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_ignores_case_and_allocates_nothing() {
        assert!(mentions("ALTER TABLE a RESET (fillfactor)", "set"));
        assert!(mentions("x DisCard y", "discard"));
        assert!(!mentions("CREATE TABLE a (id int)", "set"));
        assert!(!mentions("se", "set"));
    }

    #[test]
    fn literals_escape_quotes_and_backslashes_whatever_the_session_says() {
        assert_eq!(literal("it's"), "E'it''s'");
        assert_eq!(literal(r"a\'b"), r"E'a\\''b'");
        assert_eq!(literal(""), "E''");
        assert_eq!(literal_or_null(None), "NULL");
        assert_eq!(literal("€ $$ ;"), "E'€ $$ ;'");
    }
}
