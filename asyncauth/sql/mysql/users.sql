-- MySQL / MariaDB. No RETURNING (MySQL lacks it): a query that must return what it wrote is
-- several statements, which the driver runs in one transaction, keeping the last rows read.
--
-- Text keys are compared twice: `col = :x` finds the row through the index, and
-- `CAST(col AS BINARY) = CAST(:x AS BINARY)` keeps the match byte-exact. MySQL's collations
-- ignore trailing spaces (PAD SPACE), and a database adopted from NextAuth may have a
-- case-insensitive one, so `=` alone would let 'Ada@x' or 'ada@x ' find 'ada@x'.

-- name: create_user
-- params: name, email, email_verified, image, now
INSERT INTO users (name, email, email_verified, image, created_at, updated_at)
VALUES (:name, :email, :email_verified, :image, :now, :now);
-- LAST_INSERT_ID() is per connection, and the transaction keeps the connection.
SELECT LAST_INSERT_ID() AS id;

-- name: get_user
-- params: id
SELECT id, name, email, email_verified, image FROM users WHERE id = :id;

-- name: get_user_by_email
-- params: email
SELECT id, name, email, email_verified, image FROM users
WHERE email = :email AND CAST(email AS BINARY) = CAST(:email AS BINARY);

-- name: get_user_by_account
-- params: compound_id, provider_id, provider_account_id
-- The unique compound_id index finds the account; the pair is re-checked, byte for byte.
SELECT u.id, u.name, u.email, u.email_verified, u.image
FROM accounts a JOIN users u ON u.id = a.user_id
WHERE a.compound_id = :compound_id
  AND CAST(a.provider_id AS BINARY) = CAST(:provider_id AS BINARY)
  AND CAST(a.provider_account_id AS BINARY) = CAST(:provider_account_id AS BINARY);

-- name: update_user
-- params: id, set_name, name, set_email, email, set_image, image, set_email_verified, email_verified, now
-- Each column keeps its value unless its flag is set; the row is read back in the same
-- transaction, so it is the row this update wrote.
UPDATE users SET
  name = CASE WHEN :set_name THEN :name ELSE name END,
  email = CASE WHEN :set_email THEN :email ELSE email END,
  image = CASE WHEN :set_image THEN :image ELSE image END,
  email_verified = CASE WHEN :set_email_verified THEN :email_verified ELSE email_verified END,
  updated_at = :now
WHERE id = :id;
SELECT id, name, email, email_verified, image FROM users WHERE id = :id;

-- name: delete_user
-- params: user_id
-- One transaction: the user row is locked first (a concurrent update waits, and so does a
-- link_account, create_session or create_authenticator, which lock it LOCK IN SHARE MODE; one
-- that holds it already commits first, and the deletes below see its row), then its
-- dependants go, then the user. A failure anywhere rolls every delete back.
SELECT id, name, email, email_verified, image FROM users WHERE id = :user_id FOR UPDATE;
DELETE FROM sessions WHERE user_id = :user_id;
DELETE FROM accounts WHERE user_id = :user_id;
DELETE FROM authenticators WHERE user_id = :user_id;
DELETE FROM users WHERE id = :user_id;
