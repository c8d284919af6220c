-- The pg layout: verification_token (singular), primary key (identifier, token).

-- name: create_verification_token
-- params: identifier, token, expires
-- The schema's key is (identifier, token); asyncauth keeps a token unique on its own, as its
-- contract says (a token is a secret: two identifiers never share one), under an advisory
-- lock. A taken token inserts nothing, and the adapter raises DuplicateError.
SELECT pg_advisory_xact_lock(hashtext('asyncauth.verification_token'), hashtext(:token::text));
INSERT INTO verification_token (identifier, token, expires)
SELECT :identifier::text, :token::text, :expires::timestamptz
WHERE NOT EXISTS (SELECT 1 FROM verification_token WHERE token = :token::text);

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
