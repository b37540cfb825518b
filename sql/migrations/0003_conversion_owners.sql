-- 0003_conversion_owners: a conversion belongs to a proposal and to its owner.
--
-- conversions.user_id / visitor_session_id are denormalised from the proposal so that
-- "my conversions" is one indexed lookup for both signed-in users and anonymous visitors.
-- The foreign key is added in a guarded DO block (no ADD CONSTRAINT IF NOT EXISTS).
-- The backfill only touches rows that have no owner yet, so running it again is a no-op.

ALTER TABLE conversions ADD COLUMN IF NOT EXISTS proposal_id INTEGER NULL;
ALTER TABLE conversions ADD COLUMN IF NOT EXISTS user_id INTEGER NULL;
ALTER TABLE conversions ADD COLUMN IF NOT EXISTS visitor_session_id VARCHAR(64) NULL;

DO $$
BEGIN
    ALTER TABLE conversions
        ADD CONSTRAINT fk_conversions_proposal_id
        FOREIGN KEY (proposal_id) REFERENCES proposals (id) ON DELETE CASCADE;
EXCEPTION
    WHEN duplicate_object THEN null;
END $$;

CREATE INDEX IF NOT EXISTS ix_conversions_proposal_id ON conversions (proposal_id);
CREATE INDEX IF NOT EXISTS ix_conversions_user_id ON conversions (user_id);
CREATE INDEX IF NOT EXISTS ix_conversions_visitor_session_id ON conversions (visitor_session_id);

UPDATE conversions c
   SET user_id = p.user_id,
       visitor_session_id = p.visitor_session_id
  FROM proposals p
 WHERE c.proposal_id = p.id
   AND c.user_id IS NULL
   AND c.visitor_session_id IS NULL;
