ALTER TABLE files
    ADD COLUMN pub_magic_metadata JSONB;
