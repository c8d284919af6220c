-- The pg layout: verification_token (singular), primary key (identifier, token).

-- name: create_verification_token
-- params: identifier, token, expires
INSERT INTO verification_token (identifier, token, expires)
VALUES (:identifier, :token, :expires);

-- name: use_verification_token
-- params: identifier, token
-- Atomic: one DELETE ... RETURNING; of concurrent callers exactly one gets the row.
DELETE FROM verification_token WHERE identifier = :identifier AND token = :token
RETURNING identifier, token, expires;

-- name: get_verification_token
-- params: identifier, token
SELECT identifier, token, expires FROM verification_token
WHERE identifier = :identifier AND token = :token;

-- name: purge_verification_tokens
-- params: now, batch_size
DELETE FROM verification_token WHERE ctid IN (
  SELECT ctid FROM verification_token WHERE expires < :now LIMIT :batch_size
  FOR UPDATE SKIP LOCKED);
