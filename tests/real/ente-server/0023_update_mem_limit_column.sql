ALTER TABLE key_attributes
    ALTER COLUMN mem_limit TYPE BIGINT;
