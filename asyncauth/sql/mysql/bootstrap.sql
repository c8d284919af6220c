-- MySQL commits every DDL statement implicitly, so a migration cannot be rolled back: the
-- lock is GET_LOCK (held by the session, across those commits) and every migration statement
-- checks what already exists, so a migration interrupted midway is simply run again.

-- name: bootstrap_applied
-- params:
-- The whole cost of bootstrap on a current database: this one query.
SELECT version, checksum FROM asyncauth_migrations ORDER BY version;

-- name: bootstrap_lock
-- params: key
-- GET_LOCK names are server-wide, so the name includes the database: bootstraps of two
-- databases on one server do not wait for each other (a name is at most 64 characters).
-- Only tries (a wait of 0): 0 means another process holds it, and bootstrap polls again
-- until lock_timeout, never migrating unlocked.
SELECT GET_LOCK(CONCAT('asyncauth:', LEFT(SHA2(CONCAT(DATABASE(), ':', :key), 256), 40)), 0)
       AS acquired;

-- name: bootstrap_create_table
-- params:
CREATE TABLE IF NOT EXISTS asyncauth_migrations (
  version INT NOT NULL,
  name VARCHAR(255) NOT NULL,
  checksum CHAR(64) NOT NULL,
  applied_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  PRIMARY KEY (version)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- name: bootstrap_record
-- params: version, name, checksum, now
INSERT INTO asyncauth_migrations (version, name, checksum, applied_at)
VALUES (:version, :name, :checksum, :now);

-- name: catalog_columns
-- params:
-- COLUMN_TYPE, not DATA_TYPE: only it tells tinyint(1) (a BOOLEAN) from other tinyints.
-- MySQL 8 labels information_schema columns in upper case unless they are aliased.
SELECT table_name AS table_name, column_name AS column_name, column_type AS data_type,
       (is_nullable = 'YES') AS nullable
FROM information_schema.columns
WHERE table_schema = DATABASE()
ORDER BY table_name, ordinal_position;

-- name: catalog_indexes
-- params:
-- The primary key is listed as the unique index PRIMARY.
SELECT table_name AS table_name, index_name AS index_name, (non_unique = 0) AS is_unique,
       column_name AS column_name, seq_in_index AS position
FROM information_schema.statistics
WHERE table_schema = DATABASE()
ORDER BY table_name, index_name, seq_in_index;

-- name: bootstrap_unlock
-- params: key
-- The migration statements committed themselves; the COMMIT makes the rows recorded since
-- the last of them visible before the lock is released, so the next holder finds them.
COMMIT;
SELECT RELEASE_LOCK(CONCAT('asyncauth:', LEFT(SHA2(CONCAT(DATABASE(), ':', :key), 256), 40)))
       AS released;

-- The three queries below serve PostgreSQL's concurrent index builds (see its bootstrap.sql);
-- this dialect never runs them. They are here so that every dialect has the same names.

-- name: bootstrap_session_lock
-- params: key
SELECT 1 AS acquired, :key AS lock_key;

-- name: bootstrap_session_unlock
-- params: key
SELECT :key AS lock_key;

-- name: bootstrap_invalid_index
-- params: name
SELECT :name AS index_name WHERE 1 = 0;
