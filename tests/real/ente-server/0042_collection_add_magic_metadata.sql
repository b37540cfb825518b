ALTER TABLE collections
    ADD COLUMN magic_metadata JSONB;
