-- The pg layout (@auth/pg-adapter): SERIAL ids, camelCase columns, no UNIQUE on email.
-- Columns are selected under the names the shared adapter reads (email_verified, ...).

-- name: create_user
-- params: name, email, email_verified, image
-- The upstream schema does not make email unique, so asyncauth keeps it unique for its own
-- writers: a transaction-scoped advisory lock on the address, then a fresh-snapshot check.
-- The lock statement returns no row; a taken address inserts nothing (DuplicateError).
SELECT 1 AS locked
WHERE pg_advisory_xact_lock(hashtext('asyncauth.users.email'),
                            hashtext(coalesce(:email::varchar, '')))::text IS NULL;
INSERT INTO users (name, email, "emailVerified", image)
SELECT :name::varchar, :email::varchar, :email_verified::timestamptz, :image::text
WHERE (:email::varchar IS NULL OR NOT EXISTS (SELECT 1 FROM users WHERE email = :email::varchar))
RETURNING id;

-- name: get_user
-- params: id
SELECT id, name, email, "emailVerified" AS email_verified, image FROM users WHERE id = :id;

-- name: get_user_by_email
-- params: email
SELECT id, name, email, "emailVerified" AS email_verified, image
FROM users WHERE email = :email ORDER BY id LIMIT 1;

-- name: get_user_by_account
-- params: provider_id, provider_account_id
SELECT u.id, u.name, u.email, u."emailVerified" AS email_verified, u.image
FROM accounts a JOIN users u ON u.id = a."userId"
WHERE a.provider = :provider_id AND a."providerAccountId" = :provider_account_id
ORDER BY a.id LIMIT 1;

-- name: update_user
-- params: id, set_name, name, set_email, email, set_image, image, set_email_verified, email_verified
-- One statement with a flag per column, as in the default layout. A new email is refused when
-- another user has it (checked under the same advisory lock as create_user): no row comes back,
-- and the adapter tells a taken address from a missing user.
SELECT 1 AS locked
WHERE pg_advisory_xact_lock(hashtext('asyncauth.users.email'),
                            hashtext(coalesce(:email::varchar, '')))::text IS NULL;
UPDATE users SET
  name = CASE WHEN :set_name THEN :name::varchar ELSE name END,
  email = CASE WHEN :set_email THEN :email::varchar ELSE email END,
  image = CASE WHEN :set_image THEN :image::text ELSE image END,
  "emailVerified" = CASE WHEN :set_email_verified THEN :email_verified::timestamptz
                         ELSE "emailVerified" END
WHERE id = :id
  AND NOT (:set_email AND :email::varchar IS NOT NULL AND EXISTS (
    SELECT 1 FROM users o WHERE o.email = :email::varchar AND o.id <> :id))
RETURNING id, name, email, "emailVerified" AS email_verified, image;

-- name: delete_user
-- params: user_id
-- One transaction, as in the default layout: the user row is locked first (writers that add
-- rows for it hold it FOR KEY SHARE), then its sessions, accounts and the user go together.
-- The schema has no foreign keys, so nothing cascades by itself.
SELECT id, name, email, "emailVerified" AS email_verified, image
FROM users WHERE id = :user_id FOR UPDATE;
WITH s AS (DELETE FROM sessions WHERE "userId" = :user_id),
     a AS (DELETE FROM accounts WHERE "userId" = :user_id)
DELETE FROM users WHERE id = :user_id
RETURNING id, name, email, "emailVerified" AS email_verified, image;
