-- Rollback of 0003_conversion_owners. Idempotent (IF EXISTS everywhere).
-- The owner columns are derived from proposals, so dropping them loses nothing that
-- cannot be backfilled again by re-applying 0003.

DROP INDEX IF EXISTS ix_conversions_visitor_session_id;
DROP INDEX IF EXISTS ix_conversions_user_id;
DROP INDEX IF EXISTS ix_conversions_proposal_id;
ALTER TABLE IF EXISTS conversions DROP CONSTRAINT IF EXISTS fk_conversions_proposal_id;
ALTER TABLE IF EXISTS conversions DROP COLUMN IF EXISTS visitor_session_id;
ALTER TABLE IF EXISTS conversions DROP COLUMN IF EXISTS user_id;
ALTER TABLE IF EXISTS conversions DROP COLUMN IF EXISTS proposal_id;
