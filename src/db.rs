//! The typed round trips the sentry makes, traced at `-vv`.
//!
//! The driver logs simple queries and batches itself (debug level, shown at `-vv`) but not
//! `query_typed`, which the sentry uses for every parameterised query: one round trip, no
//! separate prepare. [`Traced::traced`] is that call plus a trace line.

use postgres::types::{ToSql, Type};
use postgres::{GenericClient, Row, RowIter};

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
        self.query_typed(sql, params)
    }

    fn traced_rows(
        &mut self,
        sql: &str,
        params: &[(&(dyn ToSql + Sync), Type)],
    ) -> Result<RowIter<'_>, postgres::Error> {
        trace(sql, params);
        self.query_typed_raw(sql, params.iter().map(|(v, t)| (*v, t.clone())))
    }
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
