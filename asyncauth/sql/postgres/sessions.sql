-- name: create_session
-- params: user_id, expires, session_token, access_token, now
-- Inserted only while the user exists, as link_account (accounts.sql) explains.
INSERT INTO sessions (user_id, expires, session_token, access_token, created_at, updated_at)
SELECT :user_id, :expires, :session_token, :access_token, :now, :now
FROM users WHERE id = :user_id FOR KEY SHARE;

-- name: get_session_and_user
-- params: session_token, now
-- The hot path: one statement through the unique session_token index, then the users pkey.
SELECT s.expires, u.id, u.name, u.email, u.email_verified, u.image
FROM sessions s JOIN users u ON u.id = s.user_id
WHERE s.session_token = :session_token AND s.expires > :now;

-- name: get_session_record
-- params: session_token
SELECT id, session_token, user_id, expires, access_token
FROM sessions WHERE session_token = :session_token;

-- name: update_session
-- params: session_token, expires, now
UPDATE sessions SET expires = :expires, updated_at = :now
WHERE session_token = :session_token
RETURNING user_id, expires;

-- name: update_session_if_expires_before
-- params: session_token, expires, if_expires_before, now
-- The conditional slide: a concurrent UPDATE of the row waits for the first, then re-checks
-- the condition against the committed row (READ COMMITTED), finds it slid and writes nothing.
UPDATE sessions SET expires = :expires, updated_at = :now
WHERE session_token = :session_token AND expires < :if_expires_before
RETURNING user_id, expires;

-- name: delete_session
-- params: session_token
DELETE FROM sessions WHERE session_token = :session_token RETURNING user_id, expires;

-- name: purge_sessions
-- params: now, batch_size
-- Bounded batches through the expires index: each holds its row locks only briefly.
DELETE FROM sessions WHERE id IN (
  SELECT id FROM sessions WHERE expires < :now ORDER BY expires LIMIT :batch_size
  FOR UPDATE SKIP LOCKED);
