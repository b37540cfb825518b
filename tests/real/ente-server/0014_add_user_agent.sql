ALTER TABLE tokens
    ADD COLUMN ip TEXT,
    ADD COLUMN user_agent TEXT;
