-- The pg layout: accounts carry expires_at in seconds (BIGINT); the adapter speaks in instants,
-- so the conversion is here. No UNIQUE on (provider, providerAccountId) upstream: asyncauth's
-- writers serialise on an advisory lock and refuse a pair that is taken.

-- name: link_account
-- params: user_id, provider_type, provider_id, provider_account_id, refresh_token, access_token, access_token_expires, token_type, scope, id_token, session_state
-- Inserted only while the user exists (its row held FOR KEY SHARE against delete_user) and
-- while the pair is free; a count of 0 is told apart by the adapter (missing user or taken).
SELECT pg_advisory_xact_lock(hashtext('asyncauth.accounts'),
                             hashtext(:provider_id::varchar || ':' || :provider_account_id::varchar));
INSERT INTO accounts ("userId", type, provider, "providerAccountId", refresh_token,
                      access_token, expires_at, token_type, scope, id_token, session_state)
SELECT :user_id::integer, :provider_type::varchar, :provider_id::varchar,
       :provider_account_id::varchar, :refresh_token::text, :access_token::text,
       EXTRACT(EPOCH FROM :access_token_expires::timestamptz)::bigint,
       :token_type::text, :scope::text, :id_token::text, :session_state::text
FROM users WHERE id = :user_id::integer
  AND NOT EXISTS (SELECT 1 FROM accounts WHERE provider = :provider_id::varchar
                  AND "providerAccountId" = :provider_account_id::varchar)
FOR KEY SHARE OF users;

-- name: get_account
-- params: provider_id, provider_account_id
SELECT "userId" AS user_id, type AS provider_type, provider AS provider_id,
       "providerAccountId" AS provider_account_id, refresh_token, access_token,
       to_timestamp(expires_at) AS access_token_expires, token_type, scope, id_token,
       session_state
FROM accounts WHERE provider = :provider_id AND "providerAccountId" = :provider_account_id
ORDER BY id LIMIT 1;

-- name: unlink_account
-- params: provider_id, provider_account_id
DELETE FROM accounts WHERE provider = :provider_id AND "providerAccountId" = :provider_account_id
RETURNING "userId" AS user_id, type AS provider_type, provider AS provider_id,
          "providerAccountId" AS provider_account_id, refresh_token, access_token,
          to_timestamp(expires_at) AS access_token_expires, token_type, scope, id_token,
          session_state;
