-- name: create_verification_token
-- params: identifier, token, expires, now
INSERT INTO verification_requests (identifier, token, expires, created_at, updated_at)
VALUES (:identifier, :token, :expires, :now, :now);

-- name: use_verification_token
-- params: identifier, token
-- DELETE ... RETURNING is one write under SQLite's database lock, so exactly one caller
-- gets the token.
DELETE FROM verification_requests WHERE identifier = :identifier AND token = :token
RETURNING identifier, token, expires;

-- name: get_verification_token
-- params: identifier, token
SELECT identifier, token, expires FROM verification_requests
WHERE identifier = :identifier AND token = :token;

-- name: purge_verification_tokens
-- params: now, batch_size
-- SQLite has one writer at a time: a bounded batch keeps each write lock short. expires is
-- compared as an instant, through the expires index, as purge_sessions explains.
DELETE FROM verification_requests WHERE id IN (
  SELECT id FROM verification_requests
  WHERE expires < date(:now, '+2 days') AND strftime('%Y-%m-%d %H:%M:%f', expires) < :now
  ORDER BY expires LIMIT :batch_size);
