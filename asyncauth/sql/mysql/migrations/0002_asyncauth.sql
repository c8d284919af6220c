-- Additions only: nothing here drops, renames or narrows a column that holds data. As in
-- migration 1, every statement may be repeated after an interruption: the driver skips an
-- ADD COLUMN or CREATE INDEX whose column or index is already there, so a database someone
-- already extended by hand is accepted too.

-- With explicit_defaults_for_timestamp off (MariaDB's default before 10.10), the first NOT NULL
-- TIMESTAMP column of a table silently gets DEFAULT and ON UPDATE CURRENT_TIMESTAMP: every
-- UPDATE of a session would move its expires to now. The MariaDB-only comment turns it on for
-- this session; MySQL 8 has it on by default and runs only the harmless assignment.
SET @asyncauth_migrating = 1 /*M!100000 , SESSION explicit_defaults_for_timestamp = 1 */;

-- The modern Auth.js account fields (expires_at maps to access_token_expires).
ALTER TABLE accounts ADD COLUMN token_type VARCHAR(255);
ALTER TABLE accounts ADD COLUMN scope TEXT;
ALTER TABLE accounts ADD COLUMN id_token TEXT;
ALTER TABLE accounts ADD COLUMN session_state VARCHAR(255);

-- WebAuthn credentials. counter is BIGINT: WebAuthn's counter is an unsigned 32-bit value.
CREATE TABLE IF NOT EXISTS authenticators (
  id INT NOT NULL AUTO_INCREMENT, credential_id VARCHAR(255) NOT NULL, user_id INTEGER NOT NULL,
  provider_account_id VARCHAR(255) NOT NULL, credential_public_key TEXT NOT NULL,
  counter BIGINT NOT NULL, credential_device_type VARCHAR(255) NOT NULL,
  credential_backed_up BOOLEAN NOT NULL, transports VARCHAR(255),
  created_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  updated_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), PRIMARY KEY (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
CREATE UNIQUE INDEX credential_id ON authenticators(credential_id);
-- list_authenticators_by_user_id and delete_user filter on user_id.
CREATE INDEX authenticators_user_id ON authenticators(user_id);

-- purge_sessions deletes in expires order: without this, each batch scans every session.
CREATE INDEX sessions_expires ON sessions(expires);
-- delete_user deletes a user's sessions: without this, InnoDB scans (and locks) them all.
CREATE INDEX sessions_user_id ON sessions(user_id);
-- purge_verification_tokens deletes in expires order.
CREATE INDEX verification_requests_expires ON verification_requests(expires);
