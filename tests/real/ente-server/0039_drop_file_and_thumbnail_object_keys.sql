DROP TABLE IF EXISTS  file_object_keys;

DROP TABLE IF EXISTS  thumbnail_object_keys;
