//! migration-sentry: gates a deploy on the state of a PostgreSQL database.
//!
//! `main.rs` parses the command line through [`cli`] into a [`config::Config`], runs
//! [`commands::execute`], and maps the [`error::Error`] to an exit code. Everything else lives
//! here so that integration tests and the render.yaml check can use the same parser.

pub mod adopt;
pub mod annotate;
pub mod apply;
pub mod cli;
pub mod commands;
pub mod config;
pub mod connect;
pub mod conninfo;
pub mod contents;
pub mod db;
pub mod error;
pub mod evidence;
pub mod fleet;
pub mod interrupt;
pub mod invalid_index;
pub mod lint;
pub mod lock;
pub mod migrations;
pub mod opening;
pub mod output;
pub mod passfile;
pub mod plan;
pub mod pooler;
pub mod prepared;
pub mod redact;
pub mod rollback;
pub mod schema;
pub mod session;
pub mod sql_split;
pub mod tls;
pub mod tracking;
