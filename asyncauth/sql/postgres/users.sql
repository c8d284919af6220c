-- name: create_user
-- params: name, email, email_verified, image, now
INSERT INTO users (name, email, email_verified, image, created_at, updated_at)
VALUES (:name, :email, :email_verified, :image, :now, :now)
RETURNING id;

-- name: get_user
-- params: id
SELECT id, name, email, email_verified, image FROM users WHERE id = :id;

-- name: get_user_by_email
-- params: email
SELECT id, name, email, email_verified, image FROM users WHERE email = :email;

-- name: get_user_by_account
-- params: compound_id, provider_id, provider_account_id
-- The unique compound_id index finds the account; the pair is re-checked in case a row was
-- written by a tool that computed compound_id differently.
SELECT u.id, u.name, u.email, u.email_verified, u.image
FROM accounts a JOIN users u ON u.id = a.user_id
WHERE a.compound_id = :compound_id
  AND a.provider_id = :provider_id AND a.provider_account_id = :provider_account_id;

-- name: update_user
-- params: id, set_name, name, set_email, email, set_image, image, set_email_verified, email_verified, now
-- One statement whatever the fields: each column keeps its value unless its flag is set.
UPDATE users SET
  name = CASE WHEN :set_name THEN :name::varchar ELSE name END,
  email = CASE WHEN :set_email THEN :email::varchar ELSE email END,
  image = CASE WHEN :set_image THEN :image::text ELSE image END,
  email_verified = CASE WHEN :set_email_verified THEN :email_verified::timestamptz
                        ELSE email_verified END,
  updated_at = :now
WHERE id = :id
RETURNING id, name, email, email_verified, image;

-- name: delete_user
-- params: user_id
-- One transaction. The user row is locked first, in a statement of its own: a write that
-- holds the row (link_account, create_session, create_authenticator lock it FOR KEY SHARE)
-- commits before this goes on, and the delete that follows, with a fresh snapshot, sees and
-- removes what it wrote. A write arriving later waits, then finds no user.
SELECT id, name, email, email_verified, image FROM users WHERE id = :user_id FOR UPDATE;
WITH s AS (DELETE FROM sessions WHERE user_id = :user_id),
     a AS (DELETE FROM accounts WHERE user_id = :user_id),
     t AS (DELETE FROM authenticators WHERE user_id = :user_id)
DELETE FROM users WHERE id = :user_id
RETURNING id, name, email, email_verified, image;
