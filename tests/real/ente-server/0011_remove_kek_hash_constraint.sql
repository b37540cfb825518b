ALTER TABLE key_attributes ALTER COLUMN kek_hash_bytes DROP NOT NULL;
