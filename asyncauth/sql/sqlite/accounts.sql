-- name: link_account
-- params: compound_id, user_id, provider_type, provider_id, provider_account_id, refresh_token, access_token, access_token_expires, token_type, scope, id_token, session_state, now
-- Inserted only while the user exists (nothing when it does not: the adapter raises
-- NotFoundError); SQLite's single writer keeps delete_user from running in between.
INSERT INTO accounts (compound_id, user_id, provider_type, provider_id, provider_account_id,
                      refresh_token, access_token, access_token_expires, token_type, scope,
                      id_token, session_state, created_at, updated_at)
SELECT :compound_id, :user_id, :provider_type, :provider_id, :provider_account_id,
       :refresh_token, :access_token, :access_token_expires, :token_type, :scope,
       :id_token, :session_state, :now, :now
FROM users WHERE id = :user_id;

-- name: get_account
-- params: compound_id, provider_id, provider_account_id
SELECT user_id, provider_type, provider_id, provider_account_id, refresh_token, access_token,
       access_token_expires, token_type, scope, id_token, session_state
FROM accounts
WHERE compound_id = :compound_id
  AND provider_id = :provider_id AND provider_account_id = :provider_account_id;

-- name: unlink_account
-- params: compound_id, provider_id, provider_account_id
DELETE FROM accounts
WHERE compound_id = :compound_id
  AND provider_id = :provider_id AND provider_account_id = :provider_account_id
RETURNING user_id, provider_type, provider_id, provider_account_id, refresh_token,
          access_token, access_token_expires, token_type, scope, id_token, session_state;
