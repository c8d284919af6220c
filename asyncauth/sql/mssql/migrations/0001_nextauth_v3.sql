-- The NextAuth v3 schema for SQL Server, as NextAuth documents it (int IDENTITY ids, no foreign
-- keys, the documented index names), with the fixes SCHEMA.md lists:
--   * primary keys, which the documented DDL forgets;
--   * users.email unique only where it is set (a filtered index, as TypeORM makes it): SQL
--     Server's plain unique index admits a single NULL, so a second user without email failed;
--   * datetime2(3) in UTC instead of datetime (1/300 s, local time): DEFAULT SYSUTCDATETIME().
-- And two of ours: nvarchar instead of varchar (a varchar column without a UTF-8 collation
-- turns characters outside its code page into '?'), nvarchar(max) instead of the deprecated
-- text; and a binary collation on the columns looked up by value, so that lookups and unique
-- keys are case-exact as on the other databases (SQL Server still ignores trailing spaces in
-- comparisons, as ANSI SQL prescribes).
-- Every statement checks what exists first, so a database half-made by hand is completed.

IF OBJECT_ID(N'accounts', N'U') IS NULL
CREATE TABLE accounts (
  id int IDENTITY(1,1) NOT NULL,
  compound_id nvarchar(255) COLLATE Latin1_General_100_BIN2 NOT NULL,
  user_id int NOT NULL,
  provider_type nvarchar(255) NOT NULL,
  provider_id nvarchar(255) COLLATE Latin1_General_100_BIN2 NOT NULL,
  provider_account_id nvarchar(255) COLLATE Latin1_General_100_BIN2 NOT NULL,
  refresh_token nvarchar(max) NULL,
  access_token nvarchar(max) NULL,
  access_token_expires datetime2(3) NULL,
  created_at datetime2(3) NOT NULL DEFAULT SYSUTCDATETIME(),
  updated_at datetime2(3) NOT NULL DEFAULT SYSUTCDATETIME(),
  CONSTRAINT pk_accounts PRIMARY KEY (id));

IF OBJECT_ID(N'sessions', N'U') IS NULL
CREATE TABLE sessions (
  id int IDENTITY(1,1) NOT NULL,
  user_id int NOT NULL,
  expires datetime2(3) NOT NULL,
  session_token nvarchar(255) COLLATE Latin1_General_100_BIN2 NOT NULL,
  access_token nvarchar(255) COLLATE Latin1_General_100_BIN2 NOT NULL,
  created_at datetime2(3) NOT NULL DEFAULT SYSUTCDATETIME(),
  updated_at datetime2(3) NOT NULL DEFAULT SYSUTCDATETIME(),
  CONSTRAINT pk_sessions PRIMARY KEY (id));

IF OBJECT_ID(N'users', N'U') IS NULL
CREATE TABLE users (
  id int IDENTITY(1,1) NOT NULL,
  name nvarchar(255) NULL,
  email nvarchar(255) COLLATE Latin1_General_100_BIN2 NULL,
  email_verified datetime2(3) NULL,
  image nvarchar(255) NULL,
  created_at datetime2(3) NOT NULL DEFAULT SYSUTCDATETIME(),
  updated_at datetime2(3) NOT NULL DEFAULT SYSUTCDATETIME(),
  CONSTRAINT pk_users PRIMARY KEY (id));

IF OBJECT_ID(N'verification_requests', N'U') IS NULL
CREATE TABLE verification_requests (
  id int IDENTITY(1,1) NOT NULL,
  identifier nvarchar(255) COLLATE Latin1_General_100_BIN2 NOT NULL,
  token nvarchar(255) COLLATE Latin1_General_100_BIN2 NOT NULL,
  expires datetime2(3) NOT NULL,
  created_at datetime2(3) NOT NULL DEFAULT SYSUTCDATETIME(),
  updated_at datetime2(3) NOT NULL DEFAULT SYSUTCDATETIME(),
  CONSTRAINT pk_verification_requests PRIMARY KEY (id));

IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE name = N'compound_id'
  AND object_id = OBJECT_ID(N'accounts'))
CREATE UNIQUE INDEX compound_id ON accounts(compound_id);
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE name = N'provider_account_id'
  AND object_id = OBJECT_ID(N'accounts'))
CREATE INDEX provider_account_id ON accounts(provider_account_id);
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE name = N'provider_id'
  AND object_id = OBJECT_ID(N'accounts'))
CREATE INDEX provider_id ON accounts(provider_id);
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE name = N'user_id'
  AND object_id = OBJECT_ID(N'accounts'))
CREATE INDEX user_id ON accounts(user_id);
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE name = N'session_token'
  AND object_id = OBJECT_ID(N'sessions'))
CREATE UNIQUE INDEX session_token ON sessions(session_token);
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE name = N'access_token'
  AND object_id = OBJECT_ID(N'sessions'))
CREATE UNIQUE INDEX access_token ON sessions(access_token);
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE name = N'email'
  AND object_id = OBJECT_ID(N'users'))
CREATE UNIQUE INDEX email ON users(email) WHERE email IS NOT NULL;
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE name = N'token'
  AND object_id = OBJECT_ID(N'verification_requests'))
CREATE UNIQUE INDEX token ON verification_requests(token);
