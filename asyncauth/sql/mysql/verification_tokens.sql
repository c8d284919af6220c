-- name: create_verification_token
-- params: identifier, token, expires, now
INSERT INTO verification_requests (identifier, token, expires, created_at, updated_at)
VALUES (:identifier, :token, :expires, :now, :now);

-- name: use_verification_token
-- params: identifier, token
-- Without RETURNING, exactly-once is a locking read and the delete in one transaction:
-- concurrent callers queue on the row lock of the unique token index; the first deletes the
-- row and commits, and each later locking read then finds nothing.
SELECT identifier, token, expires FROM verification_requests
WHERE token = :token AND CAST(token AS BINARY) = CAST(:token AS BINARY)
  AND CAST(identifier AS BINARY) = CAST(:identifier AS BINARY)
FOR UPDATE;
DELETE FROM verification_requests
WHERE token = :token AND CAST(token AS BINARY) = CAST(:token AS BINARY)
  AND CAST(identifier AS BINARY) = CAST(:identifier AS BINARY);

-- name: get_verification_token
-- params: identifier, token
SELECT identifier, token, expires FROM verification_requests
WHERE token = :token AND CAST(token AS BINARY) = CAST(:token AS BINARY)
  AND CAST(identifier AS BINARY) = CAST(:identifier AS BINARY);

-- name: purge_verification_tokens
-- params: now, batch_size
DELETE FROM verification_requests WHERE expires < :now ORDER BY expires LIMIT :batch_size;
