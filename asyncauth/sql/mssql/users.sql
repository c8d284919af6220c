-- SQL Server (T-SQL). OUTPUT takes the place of RETURNING: the rows an INSERT, UPDATE or
-- DELETE wrote come back from the same statement, so no read-after-write is needed.
-- Booleans arrive as bit parameters, hence `:set_name = 1` where PostgreSQL tests the flag.

-- name: create_user
-- params: name, email, email_verified, image, now
INSERT INTO users (name, email, email_verified, image, created_at, updated_at)
OUTPUT INSERTED.id
VALUES (:name, :email, :email_verified, :image, :now, :now);

-- name: get_user
-- params: id
SELECT id, name, email, email_verified, image FROM users WHERE id = :id;

-- name: get_user_by_email
-- params: email
SELECT id, name, email, email_verified, image FROM users WHERE email = :email;

-- name: get_user_by_account
-- params: compound_id, provider_id, provider_account_id
SELECT u.id, u.name, u.email, u.email_verified, u.image
FROM accounts AS a JOIN users AS u ON u.id = a.user_id
WHERE a.compound_id = :compound_id
  AND a.provider_id = :provider_id AND a.provider_account_id = :provider_account_id;

-- name: update_user
-- params: id, set_name, name, set_email, email, set_image, image, set_email_verified, email_verified, now
-- One statement whatever the fields: each column keeps its value unless its flag is set.
UPDATE users SET
  name = CASE WHEN :set_name = 1 THEN :name ELSE name END,
  email = CASE WHEN :set_email = 1 THEN :email ELSE email END,
  image = CASE WHEN :set_image = 1 THEN :image ELSE image END,
  email_verified = CASE WHEN :set_email_verified = 1 THEN :email_verified
                        ELSE email_verified END,
  updated_at = :now
OUTPUT INSERTED.id, INSERTED.name, INSERTED.email, INSERTED.email_verified, INSERTED.image
WHERE id = :id;

-- name: delete_user
-- params: user_id
-- Several statements, run by the driver in one transaction: all or nothing. The user row's
-- exclusive lock comes first: a write holding the row's shared lock (link_account,
-- create_session, create_authenticator) commits before the deletes run and see its row; a
-- write arriving later waits, then finds no user.
SELECT id, name, email, email_verified, image
FROM users WITH (XLOCK, HOLDLOCK, ROWLOCK) WHERE id = :user_id;
DELETE FROM sessions WHERE user_id = :user_id;
DELETE FROM accounts WHERE user_id = :user_id;
DELETE FROM authenticators WHERE user_id = :user_id;
DELETE FROM users
OUTPUT DELETED.id, DELETED.name, DELETED.email, DELETED.email_verified, DELETED.image
WHERE id = :user_id;
