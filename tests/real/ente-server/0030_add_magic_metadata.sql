ALTER TABLE files
    ADD COLUMN magic_metadata JSONB;
