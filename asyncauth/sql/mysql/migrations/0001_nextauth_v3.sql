-- The NextAuth v3 schema for MySQL / MariaDB, as NextAuth documents it: INT AUTO_INCREMENT
-- ids, TIMESTAMP(6) times (stored in UTC: asyncauth sets the session time zone), no foreign keys.
--
-- Only additions of ours: utf8mb4 with the binary collation (4-byte characters such as emoji
-- fit, and comparisons are exact), and an explicit NULL on the nullable TIMESTAMP columns.
--
-- MySQL commits each DDL statement on its own, so this script can stop halfway (a crash, a
-- lost connection). Every statement therefore checks what exists first, and bootstrap runs
-- the whole script again. MySQL 8 has no CREATE INDEX IF NOT EXISTS, hence the prepared
-- statements chosen from information_schema.

-- With explicit_defaults_for_timestamp off (MariaDB before 10.10 by default), the first NOT NULL
-- TIMESTAMP column of a table silently gets DEFAULT and ON UPDATE CURRENT_TIMESTAMP: every
-- UPDATE of a session would then move its expires to now. Turn it on for this session.
SET @asyncauth_ddl = IF(@@SESSION.explicit_defaults_for_timestamp,
  'DO 0', 'SET SESSION explicit_defaults_for_timestamp = 1');
PREPARE asyncauth_stmt FROM @asyncauth_ddl;
EXECUTE asyncauth_stmt;

CREATE TABLE IF NOT EXISTS accounts (
  id INT NOT NULL AUTO_INCREMENT, compound_id VARCHAR(255) NOT NULL, user_id INTEGER NOT NULL,
  provider_type VARCHAR(255) NOT NULL, provider_id VARCHAR(255) NOT NULL,
  provider_account_id VARCHAR(255) NOT NULL, refresh_token TEXT, access_token TEXT,
  access_token_expires TIMESTAMP(6) NULL,
  created_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  updated_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), PRIMARY KEY (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
CREATE TABLE IF NOT EXISTS sessions (
  id INT NOT NULL AUTO_INCREMENT, user_id INTEGER NOT NULL, expires TIMESTAMP(6) NOT NULL,
  session_token VARCHAR(255) NOT NULL, access_token VARCHAR(255) NOT NULL,
  created_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  updated_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), PRIMARY KEY (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
CREATE TABLE IF NOT EXISTS users (
  id INT NOT NULL AUTO_INCREMENT, name VARCHAR(255), email VARCHAR(255),
  email_verified TIMESTAMP(6) NULL, image VARCHAR(255),
  created_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  updated_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), PRIMARY KEY (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
CREATE TABLE IF NOT EXISTS verification_requests (
  id INT NOT NULL AUTO_INCREMENT, identifier VARCHAR(255) NOT NULL, token VARCHAR(255) NOT NULL,
  expires TIMESTAMP(6) NOT NULL,
  created_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  updated_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), PRIMARY KEY (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

SET @asyncauth_ddl = IF(EXISTS(SELECT 1 FROM information_schema.statistics
  WHERE table_schema = DATABASE() AND table_name = 'accounts' AND index_name = 'compound_id'),
  'DO 0', 'CREATE UNIQUE INDEX compound_id ON accounts(compound_id)');
PREPARE asyncauth_stmt FROM @asyncauth_ddl;
EXECUTE asyncauth_stmt;

SET @asyncauth_ddl = IF(EXISTS(SELECT 1 FROM information_schema.statistics
  WHERE table_schema = DATABASE() AND table_name = 'accounts' AND index_name = 'provider_account_id'),
  'DO 0', 'CREATE INDEX provider_account_id ON accounts(provider_account_id)');
PREPARE asyncauth_stmt FROM @asyncauth_ddl;
EXECUTE asyncauth_stmt;

SET @asyncauth_ddl = IF(EXISTS(SELECT 1 FROM information_schema.statistics
  WHERE table_schema = DATABASE() AND table_name = 'accounts' AND index_name = 'provider_id'),
  'DO 0', 'CREATE INDEX provider_id ON accounts(provider_id)');
PREPARE asyncauth_stmt FROM @asyncauth_ddl;
EXECUTE asyncauth_stmt;

SET @asyncauth_ddl = IF(EXISTS(SELECT 1 FROM information_schema.statistics
  WHERE table_schema = DATABASE() AND table_name = 'accounts' AND index_name = 'user_id'),
  'DO 0', 'CREATE INDEX user_id ON accounts(user_id)');
PREPARE asyncauth_stmt FROM @asyncauth_ddl;
EXECUTE asyncauth_stmt;

SET @asyncauth_ddl = IF(EXISTS(SELECT 1 FROM information_schema.statistics
  WHERE table_schema = DATABASE() AND table_name = 'sessions' AND index_name = 'session_token'),
  'DO 0', 'CREATE UNIQUE INDEX session_token ON sessions(session_token)');
PREPARE asyncauth_stmt FROM @asyncauth_ddl;
EXECUTE asyncauth_stmt;

SET @asyncauth_ddl = IF(EXISTS(SELECT 1 FROM information_schema.statistics
  WHERE table_schema = DATABASE() AND table_name = 'sessions' AND index_name = 'access_token'),
  'DO 0', 'CREATE UNIQUE INDEX access_token ON sessions(access_token)');
PREPARE asyncauth_stmt FROM @asyncauth_ddl;
EXECUTE asyncauth_stmt;

SET @asyncauth_ddl = IF(EXISTS(SELECT 1 FROM information_schema.statistics
  WHERE table_schema = DATABASE() AND table_name = 'users' AND index_name = 'email'),
  'DO 0', 'CREATE UNIQUE INDEX email ON users(email)');
PREPARE asyncauth_stmt FROM @asyncauth_ddl;
EXECUTE asyncauth_stmt;

SET @asyncauth_ddl = IF(EXISTS(SELECT 1 FROM information_schema.statistics
  WHERE table_schema = DATABASE() AND table_name = 'verification_requests' AND index_name = 'token'),
  'DO 0', 'CREATE UNIQUE INDEX token ON verification_requests(token)');
PREPARE asyncauth_stmt FROM @asyncauth_ddl;
EXECUTE asyncauth_stmt;

DEALLOCATE PREPARE asyncauth_stmt;
