-- Additions only: nothing here drops, renames or narrows a column that holds data. Each
-- statement checks what exists (MySQL 8 has no ADD COLUMN IF NOT EXISTS), so the script can
-- be run again after an interruption, and a database someone already extended is accepted.

SET @asyncauth_ddl = IF(@@SESSION.explicit_defaults_for_timestamp,
  'DO 0', 'SET SESSION explicit_defaults_for_timestamp = 1');
PREPARE asyncauth_stmt FROM @asyncauth_ddl;
EXECUTE asyncauth_stmt;

-- The modern Auth.js account fields (expires_at maps to access_token_expires).
SET @asyncauth_ddl = IF(EXISTS(SELECT 1 FROM information_schema.columns
  WHERE table_schema = DATABASE() AND table_name = 'accounts' AND column_name = 'token_type'),
  'DO 0', 'ALTER TABLE accounts ADD COLUMN token_type VARCHAR(255)');
PREPARE asyncauth_stmt FROM @asyncauth_ddl;
EXECUTE asyncauth_stmt;

SET @asyncauth_ddl = IF(EXISTS(SELECT 1 FROM information_schema.columns
  WHERE table_schema = DATABASE() AND table_name = 'accounts' AND column_name = 'scope'),
  'DO 0', 'ALTER TABLE accounts ADD COLUMN scope TEXT');
PREPARE asyncauth_stmt FROM @asyncauth_ddl;
EXECUTE asyncauth_stmt;

SET @asyncauth_ddl = IF(EXISTS(SELECT 1 FROM information_schema.columns
  WHERE table_schema = DATABASE() AND table_name = 'accounts' AND column_name = 'id_token'),
  'DO 0', 'ALTER TABLE accounts ADD COLUMN id_token TEXT');
PREPARE asyncauth_stmt FROM @asyncauth_ddl;
EXECUTE asyncauth_stmt;

SET @asyncauth_ddl = IF(EXISTS(SELECT 1 FROM information_schema.columns
  WHERE table_schema = DATABASE() AND table_name = 'accounts' AND column_name = 'session_state'),
  'DO 0', 'ALTER TABLE accounts ADD COLUMN session_state VARCHAR(255)');
PREPARE asyncauth_stmt FROM @asyncauth_ddl;
EXECUTE asyncauth_stmt;

-- WebAuthn credentials. counter is BIGINT: WebAuthn's counter is an unsigned 32-bit value.
CREATE TABLE IF NOT EXISTS authenticators (
  id INT NOT NULL AUTO_INCREMENT, credential_id VARCHAR(255) NOT NULL, user_id INTEGER NOT NULL,
  provider_account_id VARCHAR(255) NOT NULL, credential_public_key TEXT NOT NULL,
  counter BIGINT NOT NULL, credential_device_type VARCHAR(255) NOT NULL,
  credential_backed_up BOOLEAN NOT NULL, transports VARCHAR(255),
  created_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  updated_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), PRIMARY KEY (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
SET @asyncauth_ddl = IF(EXISTS(SELECT 1 FROM information_schema.statistics
  WHERE table_schema = DATABASE() AND table_name = 'authenticators' AND index_name = 'credential_id'),
  'DO 0', 'CREATE UNIQUE INDEX credential_id ON authenticators(credential_id)');
PREPARE asyncauth_stmt FROM @asyncauth_ddl;
EXECUTE asyncauth_stmt;

-- list_authenticators_by_user_id and delete_user filter on user_id.
SET @asyncauth_ddl = IF(EXISTS(SELECT 1 FROM information_schema.statistics
  WHERE table_schema = DATABASE() AND table_name = 'authenticators' AND index_name = 'authenticators_user_id'),
  'DO 0', 'CREATE INDEX authenticators_user_id ON authenticators(user_id)');
PREPARE asyncauth_stmt FROM @asyncauth_ddl;
EXECUTE asyncauth_stmt;

-- purge_sessions deletes in expires order: without this, each batch scans every session.
SET @asyncauth_ddl = IF(EXISTS(SELECT 1 FROM information_schema.statistics
  WHERE table_schema = DATABASE() AND table_name = 'sessions' AND index_name = 'sessions_expires'),
  'DO 0', 'CREATE INDEX sessions_expires ON sessions(expires)');
PREPARE asyncauth_stmt FROM @asyncauth_ddl;
EXECUTE asyncauth_stmt;

-- delete_user removes a user's sessions; without this InnoDB would also lock every row it scans.
SET @asyncauth_ddl = IF(EXISTS(SELECT 1 FROM information_schema.statistics
  WHERE table_schema = DATABASE() AND table_name = 'sessions' AND index_name = 'sessions_user_id'),
  'DO 0', 'CREATE INDEX sessions_user_id ON sessions(user_id)');
PREPARE asyncauth_stmt FROM @asyncauth_ddl;
EXECUTE asyncauth_stmt;

-- purge_verification_tokens deletes in expires order.
SET @asyncauth_ddl = IF(EXISTS(SELECT 1 FROM information_schema.statistics
  WHERE table_schema = DATABASE() AND table_name = 'verification_requests' AND index_name = 'verification_requests_expires'),
  'DO 0', 'CREATE INDEX verification_requests_expires ON verification_requests(expires)');
PREPARE asyncauth_stmt FROM @asyncauth_ddl;
EXECUTE asyncauth_stmt;

DEALLOCATE PREPARE asyncauth_stmt;
