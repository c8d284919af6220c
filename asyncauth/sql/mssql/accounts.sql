-- name: link_account
-- params: compound_id, user_id, provider_type, provider_id, provider_account_id, refresh_token, access_token, access_token_expires, token_type, scope, id_token, session_state, now
-- Inserted only while the user exists (nothing when it does not: the adapter raises
-- NotFoundError). HOLDLOCK keeps the shared lock on the user row until commit, so a
-- delete_user (which takes the row's exclusive lock first) either waits for this row and
-- removes it, or runs first and this finds no user.
INSERT INTO accounts (compound_id, user_id, provider_type, provider_id, provider_account_id,
                      refresh_token, access_token, access_token_expires, token_type, scope,
                      id_token, session_state, created_at, updated_at)
SELECT :compound_id, :user_id, :provider_type, :provider_id, :provider_account_id,
       :refresh_token, :access_token, :access_token_expires, :token_type, :scope,
       :id_token, :session_state, :now, :now
FROM users WITH (HOLDLOCK, ROWLOCK) WHERE id = :user_id;

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
OUTPUT DELETED.user_id, DELETED.provider_type, DELETED.provider_id,
       DELETED.provider_account_id, DELETED.refresh_token, DELETED.access_token,
       DELETED.access_token_expires, DELETED.token_type, DELETED.scope, DELETED.id_token,
       DELETED.session_state
WHERE compound_id = :compound_id
  AND provider_id = :provider_id AND provider_account_id = :provider_account_id;
