-- name: bootstrap_applied
-- params:
-- The whole cost of bootstrap on a current database: this one query.
SELECT version, checksum FROM asyncauth_migrations ORDER BY version;

-- name: bootstrap_lock
-- params: key
-- Held until the migration transaction ends. Only tries: bootstrap polls it, so a wait is
-- bounded by lock_timeout rather than by the statement timeout; then it finds nothing to do.
SELECT pg_try_advisory_xact_lock(:key::bigint) AS acquired;

-- name: bootstrap_create_table
-- params:
CREATE TABLE IF NOT EXISTS asyncauth_migrations (
  version INTEGER PRIMARY KEY,
  name VARCHAR(255) NOT NULL,
  checksum CHAR(64) NOT NULL,
  applied_at TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP);

-- name: bootstrap_record
-- params: version, name, checksum, now
INSERT INTO asyncauth_migrations (version, name, checksum, applied_at)
VALUES (:version, :name, :checksum, :now);

-- name: catalog_columns
-- params:
SELECT table_name::text AS table_name, column_name::text AS column_name,
       data_type::text AS data_type, (is_nullable = 'YES') AS nullable
FROM information_schema.columns
WHERE table_schema = current_schema()
ORDER BY table_name, ordinal_position;

-- name: catalog_indexes
-- params:
-- Unique constraints and primary keys show up here too, as unique indexes.
SELECT t.relname::text AS table_name, i.relname::text AS index_name,
       ix.indisunique AS is_unique, a.attname::text AS column_name, k.ord AS position
FROM pg_index ix
JOIN pg_class t ON t.oid = ix.indrelid
JOIN pg_class i ON i.oid = ix.indexrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
CROSS JOIN LATERAL unnest(ix.indkey) WITH ORDINALITY AS k(attnum, ord)
JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
WHERE n.nspname = current_schema()
ORDER BY t.relname, i.relname, k.ord;

-- name: bootstrap_unlock
-- params: key
-- Nothing to do: the advisory lock is transaction-scoped and ends with the commit.
SELECT :key::bigint AS lock_key;

-- name: bootstrap_session_lock
-- params: key
-- The same lock as bootstrap_lock, held by the session instead: a bootstrap that builds
-- indexes with CREATE INDEX CONCURRENTLY (which cannot run in a transaction) keeps it across
-- its transactions. Only tries; bootstrap polls it until lock_timeout.
SELECT pg_try_advisory_lock(:key::bigint) AS acquired;

-- name: bootstrap_session_unlock
-- params: key
-- Run outside any transaction, so it works after a failed migration too.
SELECT pg_advisory_unlock(:key::bigint) AS released;

-- name: bootstrap_invalid_index
-- params: name
-- An index of this name that a crashed CREATE INDEX CONCURRENTLY left INVALID: IF NOT EXISTS
-- would keep it, unusable, so bootstrap drops it and builds it again.
SELECT i.relname::text AS index_name
FROM pg_index ix
JOIN pg_class i ON i.oid = ix.indexrelid
JOIN pg_namespace n ON n.oid = i.relnamespace
WHERE n.nspname = current_schema() AND i.relname = :name AND NOT ix.indisvalid;
