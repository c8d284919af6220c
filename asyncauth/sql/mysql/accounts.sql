-- name: link_account
-- params: compound_id, user_id, provider_type, provider_id, provider_account_id, refresh_token, access_token, access_token_expires, token_type, scope, id_token, session_state, now
-- Inserted only while the user exists (nothing when it does not: the adapter raises
-- NotFoundError). The shared lock holds the user row until commit, so a delete_user (which
-- locks the row first) either waits for this row and removes it, or runs first and this
-- finds no user.
INSERT INTO accounts (compound_id, user_id, provider_type, provider_id, provider_account_id,
                      refresh_token, access_token, access_token_expires, token_type, scope,
                      id_token, session_state, created_at, updated_at)
SELECT :compound_id, :user_id, :provider_type, :provider_id, :provider_account_id,
       :refresh_token, :access_token, :access_token_expires, :token_type, :scope,
       :id_token, :session_state, :now, :now
FROM users WHERE id = :user_id LOCK IN SHARE MODE;

-- name: get_account
-- params: compound_id, provider_id, provider_account_id
SELECT user_id, provider_type, provider_id, provider_account_id, refresh_token, access_token,
       access_token_expires, token_type, scope, id_token, session_state
FROM accounts
WHERE compound_id = :compound_id
  AND CAST(provider_id AS BINARY) = CAST(:provider_id AS BINARY)
  AND CAST(provider_account_id AS BINARY) = CAST(:provider_account_id AS BINARY);

-- name: unlink_account
-- params: compound_id, provider_id, provider_account_id
-- The locking read and the delete share one transaction: what is returned is what is deleted.
SELECT user_id, provider_type, provider_id, provider_account_id, refresh_token, access_token,
       access_token_expires, token_type, scope, id_token, session_state
FROM accounts
WHERE compound_id = :compound_id
  AND CAST(provider_id AS BINARY) = CAST(:provider_id AS BINARY)
  AND CAST(provider_account_id AS BINARY) = CAST(:provider_account_id AS BINARY)
FOR UPDATE;
DELETE FROM accounts
WHERE compound_id = :compound_id
  AND CAST(provider_id AS BINARY) = CAST(:provider_id AS BINARY)
  AND CAST(provider_account_id AS BINARY) = CAST(:provider_account_id AS BINARY);
