-- Additions only: nothing here drops, renames or narrows a column that holds data.
-- IF NOT EXISTS everywhere, so a database someone already extended by hand is accepted.

-- The modern Auth.js account fields (expires_at maps to access_token_expires).
ALTER TABLE accounts ADD COLUMN IF NOT EXISTS token_type VARCHAR(255);
ALTER TABLE accounts ADD COLUMN IF NOT EXISTS scope TEXT;
ALTER TABLE accounts ADD COLUMN IF NOT EXISTS id_token TEXT;
ALTER TABLE accounts ADD COLUMN IF NOT EXISTS session_state VARCHAR(255);

-- WebAuthn credentials. counter is BIGINT: WebAuthn's counter is an unsigned 32-bit value.
CREATE TABLE IF NOT EXISTS authenticators (
  id SERIAL, credential_id VARCHAR(255) NOT NULL, user_id INTEGER NOT NULL,
  provider_account_id VARCHAR(255) NOT NULL, credential_public_key TEXT NOT NULL,
  counter BIGINT NOT NULL, credential_device_type VARCHAR(255) NOT NULL,
  credential_backed_up BOOLEAN NOT NULL, transports VARCHAR(255),
  created_at TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP,
  updated_at TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP, PRIMARY KEY (id));
CREATE UNIQUE INDEX IF NOT EXISTS credential_id ON authenticators(credential_id);
-- list_authenticators_by_user_id and delete_user filter on user_id.
CREATE INDEX IF NOT EXISTS authenticators_user_id ON authenticators(user_id);

-- purge_sessions scans by expires: without this it is a sequential scan of every session.
CREATE INDEX IF NOT EXISTS sessions_expires ON sessions(expires);
-- delete_user removes a user's sessions: without this, a sequential scan per deletion.
CREATE INDEX IF NOT EXISTS sessions_user_id ON sessions(user_id);
-- purge_verification_tokens scans by expires.
CREATE INDEX IF NOT EXISTS verification_requests_expires ON verification_requests(expires);
