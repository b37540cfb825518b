-- Load all IO tests fixtures for PostgREST

\set ON_ERROR_STOP on

\ir ../../orioledb.sql
\ir database.sql
\ir db_config.sql
\ir roles.sql
\ir schema.sql
\ir privileges.sql
