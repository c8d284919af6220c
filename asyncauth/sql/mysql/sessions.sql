-- name: create_session
-- params: user_id, expires, session_token, access_token, now
-- Inserted only while the user exists, as link_account (accounts.sql) explains.
INSERT INTO sessions (user_id, expires, session_token, access_token, created_at, updated_at)
SELECT :user_id, :expires, :session_token, :access_token, :now, :now
FROM users WHERE id = :user_id LOCK IN SHARE MODE;

-- name: get_session_and_user
-- params: session_token, now
-- The hot path: one statement through the unique session_token index, then the users key.
SELECT s.expires, u.id, u.name, u.email, u.email_verified, u.image
FROM sessions s JOIN users u ON u.id = s.user_id
WHERE s.session_token = :session_token
  AND CAST(s.session_token AS BINARY) = CAST(:session_token AS BINARY)
  AND s.expires > :now;

-- name: get_session_record
-- params: session_token
SELECT id, session_token, user_id, expires, access_token
FROM sessions
WHERE session_token = :session_token
  AND CAST(session_token AS BINARY) = CAST(:session_token AS BINARY);

-- name: update_session
-- params: session_token, expires, now
UPDATE sessions SET expires = :expires, updated_at = :now
WHERE session_token = :session_token
  AND CAST(session_token AS BINARY) = CAST(:session_token AS BINARY);
SELECT user_id, expires FROM sessions
WHERE session_token = :session_token
  AND CAST(session_token AS BINARY) = CAST(:session_token AS BINARY);

-- name: update_session_if_expires_before
-- params: session_token, expires, if_expires_before, now
-- The conditional slide: InnoDB's UPDATE reads the latest committed row under its lock, so a
-- concurrent caller finds the expiry slid and changes nothing. No RETURNING here: the row is
-- read back in the same transaction only when this UPDATE changed it (ROW_COUNT()).
UPDATE sessions SET expires = :expires, updated_at = :now
WHERE session_token = :session_token
  AND CAST(session_token AS BINARY) = CAST(:session_token AS BINARY)
  AND expires < :if_expires_before;
SELECT user_id, expires FROM sessions
WHERE session_token = :session_token
  AND CAST(session_token AS BINARY) = CAST(:session_token AS BINARY)
  AND ROW_COUNT() > 0;

-- name: delete_session
-- params: session_token
SELECT user_id, expires FROM sessions
WHERE session_token = :session_token
  AND CAST(session_token AS BINARY) = CAST(:session_token AS BINARY)
FOR UPDATE;
DELETE FROM sessions
WHERE session_token = :session_token
  AND CAST(session_token AS BINARY) = CAST(:session_token AS BINARY);

-- name: purge_sessions
-- params: now, batch_size
-- MySQL's single-table DELETE takes ORDER BY and LIMIT (it refuses LIMIT in an IN
-- subquery): a bounded batch through the expires index, each its own short transaction.
DELETE FROM sessions WHERE expires < :now ORDER BY expires LIMIT :batch_size;
