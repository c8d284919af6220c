-- Additions only: nothing here drops, renames or narrows a column that holds data.
-- SQLite has no ADD COLUMN IF NOT EXISTS; the migration runs in one transaction instead.

-- The modern Auth.js account fields (expires_at maps to access_token_expires).
ALTER TABLE accounts ADD COLUMN token_type varchar(255);
ALTER TABLE accounts ADD COLUMN scope text;
ALTER TABLE accounts ADD COLUMN id_token text;
ALTER TABLE accounts ADD COLUMN session_state varchar(255);

-- WebAuthn credentials.
CREATE TABLE IF NOT EXISTS authenticators (
  id integer PRIMARY KEY AUTOINCREMENT, credential_id varchar(255) NOT NULL,
  user_id integer NOT NULL, provider_account_id varchar(255) NOT NULL,
  credential_public_key text NOT NULL, counter bigint NOT NULL,
  credential_device_type varchar(255) NOT NULL, credential_backed_up boolean NOT NULL,
  transports varchar(255),
  created_at datetime NOT NULL DEFAULT (datetime('now')),
  updated_at datetime NOT NULL DEFAULT (datetime('now')));
CREATE UNIQUE INDEX IF NOT EXISTS credential_id ON authenticators(credential_id);
-- list_authenticators_by_user_id and delete_user filter on user_id.
CREATE INDEX IF NOT EXISTS authenticators_user_id ON authenticators(user_id);

-- purge_sessions scans by expires; delete_user removes a user's sessions.
CREATE INDEX IF NOT EXISTS sessions_expires ON sessions(expires);
CREATE INDEX IF NOT EXISTS sessions_user_id ON sessions(user_id);
-- purge_verification_tokens scans by expires.
CREATE INDEX IF NOT EXISTS verification_requests_expires ON verification_requests(expires);
