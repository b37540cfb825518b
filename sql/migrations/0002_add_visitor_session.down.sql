-- Rollback of 0002_add_visitor_session. Idempotent (IF EXISTS everywhere).
-- Anonymous proposals lose their owner: delete them first if user_id IS NULL matters to you.

ALTER TABLE IF EXISTS proposals DROP CONSTRAINT IF EXISTS ck_proposals_owner_present;
DROP INDEX IF EXISTS ix_proposals_expires_at;
DROP INDEX IF EXISTS ix_proposals_visitor_session_id;
ALTER TABLE IF EXISTS proposals DROP COLUMN IF EXISTS expires_at;
ALTER TABLE IF EXISTS proposals DROP COLUMN IF EXISTS visitor_session_id;
