-- The NextAuth v3 schema for MySQL / MariaDB, as NextAuth documents it: INT AUTO_INCREMENT
-- ids, TIMESTAMP(6) times (stored in UTC: asyncauth sets the session time zone to +00:00),
-- the eight documented indexes, no foreign keys.
--
-- Additions of ours: utf8mb4 with the binary collation (4-byte characters such as emoji fit,
-- comparisons are exact) and an explicit NULL on the nullable TIMESTAMP columns.
--
-- MySQL commits each DDL statement on its own, so this script can stop halfway (a crash, a
-- lost connection) and bootstrap then runs it again. Each statement is safe to repeat: the
-- tables say IF NOT EXISTS, and the driver skips a CREATE INDEX or ADD COLUMN that finds its
-- index or column already there (errors 1061, 1060), since MySQL 8 has no IF NOT EXISTS for
-- them. (A PREPARE chosen from information_schema would do it in SQL, but MariaDB's ODBC
-- driver cannot send PREPARE.)

-- With explicit_defaults_for_timestamp off (MariaDB's default before 10.10), the first NOT NULL
-- TIMESTAMP column of a table silently gets DEFAULT and ON UPDATE CURRENT_TIMESTAMP: every
-- UPDATE of a session would move its expires to now. The MariaDB-only comment turns it on for
-- this session; MySQL 8 has it on by default and runs only the harmless assignment.
SET @asyncauth_migrating = 1 /*M!100000 , SESSION explicit_defaults_for_timestamp = 1 */;

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
CREATE UNIQUE INDEX compound_id ON accounts(compound_id);
CREATE INDEX provider_account_id ON accounts(provider_account_id);
CREATE INDEX provider_id ON accounts(provider_id);
CREATE INDEX user_id ON accounts(user_id);
CREATE UNIQUE INDEX session_token ON sessions(session_token);
CREATE UNIQUE INDEX access_token ON sessions(access_token);
CREATE UNIQUE INDEX email ON users(email);
CREATE UNIQUE INDEX token ON verification_requests(token);
