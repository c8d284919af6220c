-- Every query that returns a user selects phone too, so User.extra is the same whichever
-- method read it. create_user and update_user declare the new field as extra parameters.

-- name: create_user
-- params: name, email, email_verified, image, now, phone
INSERT INTO users (name, email, email_verified, image, phone, created_at, updated_at)
VALUES (:name, :email, :email_verified, :image, :phone, :now, :now)
RETURNING id, phone;

-- name: get_user
-- params: id
SELECT id, name, email, email_verified, image, phone FROM users WHERE id = :id;

-- name: get_user_by_email
-- params: email
SELECT id, name, email, email_verified, image, phone FROM users WHERE email = :email;

-- name: get_user_by_account
-- params: compound_id, provider_id, provider_account_id
SELECT u.id, u.name, u.email, u.email_verified, u.image, u.phone
FROM accounts a JOIN users u ON u.id = a.user_id
WHERE a.compound_id = :compound_id
  AND a.provider_id = :provider_id AND a.provider_account_id = :provider_account_id;

-- name: update_user
-- params: id, set_name, name, set_email, email, set_image, image, set_email_verified, email_verified, set_phone, phone, now
UPDATE users SET
  name = CASE WHEN :set_name THEN :name::varchar ELSE name END,
  email = CASE WHEN :set_email THEN :email::varchar ELSE email END,
  image = CASE WHEN :set_image THEN :image::text ELSE image END,
  email_verified = CASE WHEN :set_email_verified THEN :email_verified::timestamptz
                        ELSE email_verified END,
  phone = CASE WHEN :set_phone THEN :phone::varchar ELSE phone END,
  updated_at = :now
WHERE id = :id
RETURNING id, name, email, email_verified, image, phone;

-- name: delete_user
-- params: user_id
WITH s AS (DELETE FROM sessions WHERE user_id = :user_id),
     a AS (DELETE FROM accounts WHERE user_id = :user_id),
     t AS (DELETE FROM authenticators WHERE user_id = :user_id)
DELETE FROM users WHERE id = :user_id
RETURNING id, name, email, email_verified, image, phone;

-- name: get_session_and_user
-- params: session_token, now
SELECT s.expires, u.id, u.name, u.email, u.email_verified, u.image, u.phone
FROM sessions s JOIN users u ON u.id = s.user_id
WHERE s.session_token = :session_token AND s.expires > :now;
