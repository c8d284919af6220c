-- name: link_account
-- params: compound_id, user_id, provider_type, provider_id, provider_account_id, refresh_token, access_token, access_token_expires, token_type, scope, id_token, session_state, now
-- Inserted only while the user exists (nothing when it does not: the adapter raises
-- NotFoundError). FOR KEY SHARE holds the user row until commit, so a delete_user (which
-- locks the row first) either waits for this row and removes it, or runs first and this
-- finds no user; it does not block update_user.
INSERT INTO accounts (compound_id, user_id, provider_type, provider_id, provider_account_id,
                      refresh_token, access_token, access_token_expires, token_type, scope,
                      id_token, session_state, created_at, updated_at)
SELECT :compound_id, :user_id, :provider_type, :provider_id, :provider_account_id,
       :refresh_token, :access_token, :access_token_expires, :token_type, :scope,
       :id_token, :session_state, :now, :now
FROM users WHERE id = :user_id FOR KEY SHARE;

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
