-- The NextAuth v3 schema on SQLite: the PostgreSQL layout with integer autoincrement keys and
-- datetime columns, as TypeORM maps it.
CREATE TABLE accounts (
  id integer PRIMARY KEY AUTOINCREMENT, compound_id varchar(255) NOT NULL,
  user_id integer NOT NULL, provider_type varchar(255) NOT NULL,
  provider_id varchar(255) NOT NULL, provider_account_id varchar(255) NOT NULL,
  refresh_token text, access_token text, access_token_expires datetime,
  created_at datetime NOT NULL DEFAULT (datetime('now')),
  updated_at datetime NOT NULL DEFAULT (datetime('now')));
CREATE TABLE sessions (
  id integer PRIMARY KEY AUTOINCREMENT, user_id integer NOT NULL, expires datetime NOT NULL,
  session_token varchar(255) NOT NULL, access_token varchar(255) NOT NULL,
  created_at datetime NOT NULL DEFAULT (datetime('now')),
  updated_at datetime NOT NULL DEFAULT (datetime('now')));
CREATE TABLE users (
  id integer PRIMARY KEY AUTOINCREMENT, name varchar(255), email varchar(255),
  email_verified datetime, image text,
  created_at datetime NOT NULL DEFAULT (datetime('now')),
  updated_at datetime NOT NULL DEFAULT (datetime('now')));
CREATE TABLE verification_requests (
  id integer PRIMARY KEY AUTOINCREMENT, identifier varchar(255) NOT NULL,
  token varchar(255) NOT NULL, expires datetime NOT NULL,
  created_at datetime NOT NULL DEFAULT (datetime('now')),
  updated_at datetime NOT NULL DEFAULT (datetime('now')));
CREATE UNIQUE INDEX compound_id ON accounts(compound_id);
CREATE INDEX provider_account_id ON accounts(provider_account_id);
CREATE INDEX provider_id ON accounts(provider_id);
CREATE INDEX user_id ON accounts(user_id);
CREATE UNIQUE INDEX session_token ON sessions(session_token);
CREATE UNIQUE INDEX access_token ON sessions(access_token);
CREATE UNIQUE INDEX email ON users(email);
CREATE UNIQUE INDEX token ON verification_requests(token);
