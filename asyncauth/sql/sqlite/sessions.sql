-- name: create_session
-- params: user_id, expires, session_token, access_token, now
-- Inserted only while the user exists, as link_account (accounts.sql) explains.
INSERT INTO sessions (user_id, expires, session_token, access_token, created_at, updated_at)
SELECT :user_id, :expires, :session_token, :access_token, :now, :now
FROM users WHERE id = :user_id;

-- name: get_session_and_user
-- params: session_token, now
-- The hot path: one lookup by the unique session_token. asyncauth writes expires as UTC
-- text 'YYYY-MM-DD HH:MM:SS.SSS', but other clients may write 'T', 'Z' or an offset
-- ('+02:00'), which compare wrongly as text: strftime reads every ISO-8601 form SQLite knows
-- and gives back the instant in asyncauth's own form (UTC, to the millisecond).
SELECT s.expires, u.id, u.name, u.email, u.email_verified, u.image
FROM sessions s JOIN users u ON u.id = s.user_id
WHERE s.session_token = :session_token
  AND strftime('%Y-%m-%d %H:%M:%f', s.expires) > :now;

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
-- The conditional slide: only a write that still finds the old expiry happens, and SQLite's
-- single writer makes it atomic. expires is compared as an instant, as in
-- get_session_and_user (one row, found through the token index, so no index is lost).
UPDATE sessions SET expires = :expires, updated_at = :now
WHERE session_token = :session_token
  AND strftime('%Y-%m-%d %H:%M:%f', expires) < :if_expires_before
RETURNING user_id, expires;

-- name: delete_session
-- params: session_token
DELETE FROM sessions WHERE session_token = :session_token RETURNING user_id, expires;

-- name: purge_sessions
-- params: now, batch_size
-- SQLite has one writer at a time: a bounded batch keeps each write lock short. expires is
-- compared as an instant (see get_session_and_user). Every ISO-8601 form starts with the
-- date of its own zone, at most 14 hours from UTC, so an expired row's text is below the
-- date two days after now: that bound walks the expires index, the instant decides.
DELETE FROM sessions WHERE id IN (
  SELECT id FROM sessions
  WHERE expires < date(:now, '+2 days') AND strftime('%Y-%m-%d %H:%M:%f', expires) < :now
  ORDER BY expires LIMIT :batch_size);
