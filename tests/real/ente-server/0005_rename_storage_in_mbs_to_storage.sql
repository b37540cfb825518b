ALTER TABLE subscriptions RENAME storage_in_mbs TO storage;
