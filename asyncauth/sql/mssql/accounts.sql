-- name: link_account
-- params: compound_id, user_id, provider_type, provider_id, provider_account_id, refresh_token, access_token, access_token_expires, token_type, scope, id_token, session_state, now
INSERT INTO accounts (compound_id, user_id, provider_type, provider_id, provider_account_id,
                      refresh_token, access_token, access_token_expires, token_type, scope,
                      id_token, session_state, created_at, updated_at)
VALUES (:compound_id, :user_id, :provider_type, :provider_id, :provider_account_id,
        :refresh_token, :access_token, :access_token_expires, :token_type, :scope,
        :id_token, :session_state, :now, :now);

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
