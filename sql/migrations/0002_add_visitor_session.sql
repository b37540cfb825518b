-- 0002_add_visitor_session: anonymous visitors own proposals through their session id.
--
-- A proposal is owned either by a signed-in user (user_id) or by an anonymous visitor
-- (visitor_session_id); anonymous proposals expire (expires_at, UTC, no time zone).
-- The check constraint enforces that at least one owner is present. PostgreSQL has no
-- ADD CONSTRAINT IF NOT EXISTS, so it is added in a guarded DO block.
--
-- Note: the constraint is validated against existing rows. Proposals with neither owner
-- (there should be none: user_id was always set before anonymous proposals existed) would
-- make this migration fail with SQLSTATE 23514; delete or fix them first.

ALTER TABLE proposals ADD COLUMN IF NOT EXISTS visitor_session_id VARCHAR(64) NULL;
ALTER TABLE proposals ADD COLUMN IF NOT EXISTS expires_at TIMESTAMP NULL;

CREATE INDEX IF NOT EXISTS ix_proposals_visitor_session_id ON proposals (visitor_session_id);
CREATE INDEX IF NOT EXISTS ix_proposals_expires_at ON proposals (expires_at);

DO $$
BEGIN
    ALTER TABLE proposals
        ADD CONSTRAINT ck_proposals_owner_present
        CHECK (user_id IS NOT NULL OR visitor_session_id IS NOT NULL);
EXCEPTION
    WHEN duplicate_object THEN null;
END $$;
