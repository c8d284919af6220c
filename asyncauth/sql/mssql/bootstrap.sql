-- name: bootstrap_applied
-- params:
-- The whole cost of bootstrap on a current database: this one query.
SELECT version, checksum FROM asyncauth_migrations ORDER BY version;

-- name: bootstrap_lock
-- params: key
-- One batch (no ';' inside: the loader splits statements on it). sp_getapplock with the
-- Transaction owner is held until the migration transaction commits, so the next holder sees
-- every recorded row; application locks are scoped to the database. ODBC's manual-commit
-- mode opens a transaction only at the first data statement, so one is begun here if none
-- is open yet (the driver's COMMIT or ROLLBACK ends it). It only tries (@LockTimeout = 0):
-- a negative result (held elsewhere, deadlock victim) is reported as acquired = 0, and
-- bootstrap polls again until lock_timeout, never migrating unlocked.
DECLARE @result int
DECLARE @resource nvarchar(255) = CONCAT(N'asyncauth.bootstrap.', :key)
IF @@TRANCOUNT = 0 BEGIN TRANSACTION
EXEC @result = sp_getapplock @Resource = @resource, @LockMode = 'Exclusive',
  @LockOwner = 'Transaction', @LockTimeout = 0
SELECT CASE WHEN @result >= 0 THEN 1 ELSE 0 END AS acquired;

-- name: bootstrap_create_table
-- params:
IF OBJECT_ID(N'asyncauth_migrations', N'U') IS NULL
CREATE TABLE asyncauth_migrations (
  version int NOT NULL,
  name nvarchar(255) NOT NULL,
  checksum char(64) NOT NULL,
  applied_at datetime2(3) NOT NULL DEFAULT SYSUTCDATETIME(),
  CONSTRAINT pk_asyncauth_migrations PRIMARY KEY (version));

-- name: bootstrap_record
-- params: version, name, checksum, now
INSERT INTO asyncauth_migrations (version, name, checksum, applied_at)
VALUES (:version, :name, :checksum, :now);

-- name: catalog_columns
-- params:
SELECT c.TABLE_NAME AS table_name, c.COLUMN_NAME AS column_name, c.DATA_TYPE AS data_type,
       CASE WHEN c.IS_NULLABLE = 'YES' THEN 1 ELSE 0 END AS nullable
FROM INFORMATION_SCHEMA.COLUMNS AS c
WHERE c.TABLE_SCHEMA = SCHEMA_NAME()
ORDER BY c.TABLE_NAME, c.ORDINAL_POSITION;

-- name: catalog_indexes
-- params:
-- Primary keys are listed as unique indexes; included (non-key) columns are left out. The
-- filtered unique index on users.email counts as unique: it is, wherever email is set.
-- An IDENTITY column is listed as unique too: NextAuth's documented SQL Server DDL declares
-- no primary keys, and such a database must still be adoptable (migration 2 then adds them).
SELECT t.name AS table_name, i.name AS index_name, CAST(i.is_unique AS int) AS is_unique,
       c.name AS column_name, ic.key_ordinal AS position
FROM sys.indexes AS i
JOIN sys.tables AS t ON t.object_id = i.object_id
JOIN sys.index_columns AS ic ON ic.object_id = i.object_id AND ic.index_id = i.index_id
JOIN sys.columns AS c ON c.object_id = ic.object_id AND c.column_id = ic.column_id
WHERE t.schema_id = SCHEMA_ID() AND ic.key_ordinal > 0
UNION ALL
SELECT t.name, N'identity', 1, c.name, 1
FROM sys.identity_columns AS c
JOIN sys.tables AS t ON t.object_id = c.object_id
WHERE t.schema_id = SCHEMA_ID()
ORDER BY table_name, index_name, position;

-- name: bootstrap_unlock
-- params: key
-- Nothing to do: the application lock is owned by the transaction and ends with it.
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
