-- The pg layout: sessions have a SERIAL id and a sessionToken with no UNIQUE and no index
-- upstream (the hot path is still one statement; an index is the schema owner's choice).

-- name: create_session
-- params: user_id, expires, session_token
-- Inserted only while the user exists and while no session has the token (the schema does
-- not enforce it; asyncauth's writers serialise on an advisory lock).
SELECT pg_advisory_xact_lock(hashtext('asyncauth.sessions'), hashtext(:session_token::varchar));
INSERT INTO sessions ("userId", expires, "sessionToken")
SELECT :user_id::integer, :expires::timestamptz, :session_token::varchar
FROM users WHERE id = :user_id::integer
  AND NOT EXISTS (SELECT 1 FROM sessions WHERE "sessionToken" = :session_token::varchar)
FOR KEY SHARE OF users;

-- name: get_session_and_user
-- params: session_token, now
-- The hot path: one statement.
SELECT s.expires, u.id, u.name, u.email, u."emailVerified" AS email_verified, u.image
FROM sessions s JOIN users u ON u.id = s."userId"
WHERE s."sessionToken" = :session_token AND s.expires > :now;

-- name: get_session_record
-- params: session_token
SELECT id, "sessionToken" AS session_token, "userId" AS user_id, expires,
       NULL::text AS access_token
FROM sessions WHERE "sessionToken" = :session_token ORDER BY id LIMIT 1;

-- name: update_session
-- params: session_token, expires
UPDATE sessions SET expires = :expires
WHERE "sessionToken" = :session_token
RETURNING "userId" AS user_id, expires;

-- name: update_session_if_expires_before
-- params: session_token, expires, if_expires_before
UPDATE sessions SET expires = :expires
WHERE "sessionToken" = :session_token AND expires < :if_expires_before
 
RETURNING "userId" AS user_id, expires;

-- name: delete_session
-- params: session_token
DELETE FROM sessions WHERE "sessionToken" = :session_token RETURNING "userId" AS user_id, expires;

-- name: purge_sessions
-- params: now, batch_size
DELETE FROM sessions WHERE id IN (
  SELECT id FROM sessions WHERE expires < :now ORDER BY expires LIMIT :batch_size
  FOR UPDATE SKIP LOCKED);
