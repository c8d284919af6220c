-- name: create_verification_token
-- params: identifier, token, expires, now
INSERT INTO verification_requests (identifier, token, expires, created_at, updated_at)
VALUES (:identifier, :token, :expires, :now, :now);

-- name: use_verification_token
-- params: identifier, token
-- DELETE ... OUTPUT is one atomic statement: a concurrent caller waits on the row lock, then
-- finds the row gone, so exactly one caller gets the token.
DELETE FROM verification_requests
OUTPUT DELETED.identifier, DELETED.token, DELETED.expires
WHERE identifier = :identifier AND token = :token;

-- name: get_verification_token
-- params: identifier, token
SELECT identifier, token, expires FROM verification_requests
WHERE identifier = :identifier AND token = :token;

-- name: purge_verification_tokens
-- params: now, batch_size
DELETE TOP (:batch_size) FROM verification_requests WITH (READPAST) WHERE expires < :now;
