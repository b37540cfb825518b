ALTER TABLE usage ADD CONSTRAINT usage_user_id_unique_constraint_index UNIQUE (user_id);
