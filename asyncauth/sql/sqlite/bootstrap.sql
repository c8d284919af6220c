-- name: bootstrap_applied
-- params:
-- The whole cost of bootstrap on a current database: this one query.
SELECT version, checksum FROM asyncauth_migrations ORDER BY version;

-- name: bootstrap_lock
-- params: key
-- The migration runs in a BEGIN IMMEDIATE transaction, which already holds SQLite's write
-- lock; this statement only keeps the query names the same across dialects.
SELECT :key AS lock_key;

-- name: bootstrap_create_table
-- params:
CREATE TABLE IF NOT EXISTS asyncauth_migrations (
  version integer PRIMARY KEY,
  name varchar(255) NOT NULL,
  checksum varchar(64) NOT NULL,
  applied_at datetime NOT NULL DEFAULT (datetime('now')));

-- name: bootstrap_record
-- params: version, name, checksum, now
INSERT INTO asyncauth_migrations (version, name, checksum, applied_at)
VALUES (:version, :name, :checksum, :now);

-- name: catalog_columns
-- params:
SELECT m.name AS table_name, p.name AS column_name, p.type AS data_type,
       (p."notnull" = 0 AND p.pk = 0) AS nullable
FROM sqlite_master m JOIN pragma_table_info(m.name) p
WHERE m.type = 'table'
ORDER BY m.name, p.cid;

-- name: catalog_indexes
-- params:
-- An INTEGER PRIMARY KEY is the rowid and has no index of its own: it is listed as unique.
SELECT m.name AS table_name, il.name AS index_name, il."unique" AS is_unique,
       ii.name AS column_name, ii.seqno AS position
FROM sqlite_master m
JOIN pragma_index_list(m.name) il
JOIN pragma_index_info(il.name) ii
WHERE m.type = 'table'
UNION ALL
SELECT m.name, 'primary key', 1, p.name, p.pk - 1
FROM sqlite_master m JOIN pragma_table_info(m.name) p
WHERE m.type = 'table' AND p.pk > 0
ORDER BY 1, 2, 5;

-- name: bootstrap_unlock
-- params: key
-- Nothing to do: the write lock ends with the migration transaction.
SELECT :key AS lock_key;

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
