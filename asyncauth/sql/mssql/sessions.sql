-- name: create_session
-- params: user_id, expires, session_token, access_token, now
-- Inserted only while the user exists, as link_account (accounts.sql) explains.
INSERT INTO sessions (user_id, expires, session_token, access_token, created_at, updated_at)
SELECT :user_id, :expires, :session_token, :access_token, :now, :now
FROM users WITH (HOLDLOCK, ROWLOCK) WHERE id = :user_id;

-- name: get_session_and_user
-- params: session_token, now
-- The hot path: one statement through the unique session_token index, then the users key.
SELECT s.expires, u.id, u.name, u.email, u.email_verified, u.image
FROM sessions AS s JOIN users AS u ON u.id = s.user_id
WHERE s.session_token = :session_token AND s.expires > :now;

-- name: get_session_record
-- params: session_token
SELECT id, session_token, user_id, expires, access_token
FROM sessions WHERE session_token = :session_token;

-- name: update_session
-- params: session_token, expires, now
UPDATE sessions SET expires = :expires, updated_at = :now
OUTPUT INSERTED.user_id, INSERTED.expires
WHERE session_token = :session_token;

-- name: update_session_if_expires_before
-- params: session_token, expires, if_expires_before, now
-- The conditional slide: the UPDATE's own lock makes a concurrent one re-read the row and
-- find the expiry slid, so it changes (and outputs) nothing.
UPDATE sessions SET expires = :expires, updated_at = :now
OUTPUT INSERTED.user_id, INSERTED.expires
WHERE session_token = :session_token AND expires < :if_expires_before;

-- name: delete_session
-- params: session_token
DELETE FROM sessions
OUTPUT DELETED.user_id, DELETED.expires
WHERE session_token = :session_token;

-- name: purge_sessions
-- params: now, batch_size
-- A bounded batch through the expires index; READPAST skips rows another transaction has
-- locked (PostgreSQL's SKIP LOCKED), so the purge never waits behind a request.
DELETE TOP (:batch_size) FROM sessions WITH (READPAST) WHERE expires < :now;
