-- Additions only: nothing here drops, renames or narrows a column that holds data; every
-- statement checks what exists, so a database someone already extended by hand is accepted.

-- The modern Auth.js account fields (expires_at maps to access_token_expires).
IF COL_LENGTH(N'accounts', N'token_type') IS NULL
ALTER TABLE accounts ADD token_type nvarchar(255) NULL;
IF COL_LENGTH(N'accounts', N'scope') IS NULL
ALTER TABLE accounts ADD scope nvarchar(max) NULL;
IF COL_LENGTH(N'accounts', N'id_token') IS NULL
ALTER TABLE accounts ADD id_token nvarchar(max) NULL;
IF COL_LENGTH(N'accounts', N'session_state') IS NULL
ALTER TABLE accounts ADD session_state nvarchar(255) NULL;

-- WebAuthn credentials. counter is bigint: WebAuthn's counter is an unsigned 32-bit value.
IF OBJECT_ID(N'authenticators', N'U') IS NULL
CREATE TABLE authenticators (
  id int IDENTITY(1,1) NOT NULL,
  credential_id nvarchar(255) COLLATE Latin1_General_100_BIN2 NOT NULL,
  user_id int NOT NULL,
  provider_account_id nvarchar(255) NOT NULL,
  credential_public_key nvarchar(max) NOT NULL,
  counter bigint NOT NULL,
  credential_device_type nvarchar(255) NOT NULL,
  credential_backed_up bit NOT NULL,
  transports nvarchar(255) NULL,
  created_at datetime2(3) NOT NULL DEFAULT SYSUTCDATETIME(),
  updated_at datetime2(3) NOT NULL DEFAULT SYSUTCDATETIME(),
  CONSTRAINT pk_authenticators PRIMARY KEY (id));
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE name = N'credential_id'
  AND object_id = OBJECT_ID(N'authenticators'))
CREATE UNIQUE INDEX credential_id ON authenticators(credential_id);
-- list_authenticators_by_user_id and delete_user filter on user_id.
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE name = N'authenticators_user_id'
  AND object_id = OBJECT_ID(N'authenticators'))
CREATE INDEX authenticators_user_id ON authenticators(user_id);

-- purge_sessions deletes by expires: without this, each batch scans every session.
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE name = N'sessions_expires'
  AND object_id = OBJECT_ID(N'sessions'))
CREATE INDEX sessions_expires ON sessions(expires);
-- delete_user deletes a user's sessions.
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE name = N'sessions_user_id'
  AND object_id = OBJECT_ID(N'sessions'))
CREATE INDEX sessions_user_id ON sessions(user_id);
-- purge_verification_tokens deletes by expires.
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE name = N'verification_requests_expires'
  AND object_id = OBJECT_ID(N'verification_requests'))
CREATE INDEX verification_requests_expires ON verification_requests(expires);
