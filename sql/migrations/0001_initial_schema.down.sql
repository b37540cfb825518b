-- Rollback of 0001_initial_schema: drops the whole application schema (and its data!).
-- Idempotent: every DROP has IF EXISTS. Dependent objects are dropped child-first, so no
-- CASCADE is needed (and none is used, so nothing unexpected disappears with them).

DROP TABLE IF EXISTS conversions;
DROP TABLE IF EXISTS proposals;
DROP TABLE IF EXISTS users;
DROP TYPE IF EXISTS conversion_status;
