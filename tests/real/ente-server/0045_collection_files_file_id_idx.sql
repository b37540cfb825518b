-- sentry:no-transaction
CREATE INDEX CONCURRENTLY IF NOT EXISTS collection_files_file_id_index ON collection_files (file_id);
