-- name: create_authenticator
-- params: credential_id, user_id, provider_account_id, credential_public_key, counter, credential_device_type, credential_backed_up, transports, now
-- Inserted only while the user exists, as link_account (accounts.sql) explains.
INSERT INTO authenticators (credential_id, user_id, provider_account_id, credential_public_key,
                            counter, credential_device_type, credential_backed_up, transports,
                            created_at, updated_at)
SELECT :credential_id, :user_id, :provider_account_id, :credential_public_key, :counter,
       :credential_device_type, :credential_backed_up, :transports, :now, :now
FROM users WITH (HOLDLOCK, ROWLOCK) WHERE id = :user_id;

-- name: get_authenticator
-- params: credential_id
SELECT credential_id, user_id, provider_account_id, credential_public_key, counter,
       credential_device_type, credential_backed_up, transports
FROM authenticators WHERE credential_id = :credential_id;

-- name: list_authenticators_by_user_id
-- params: user_id
SELECT credential_id, user_id, provider_account_id, credential_public_key, counter,
       credential_device_type, credential_backed_up, transports
FROM authenticators WHERE user_id = :user_id ORDER BY id;

-- name: update_authenticator_counter
-- params: credential_id, counter, now
UPDATE authenticators SET counter = :counter, updated_at = :now
OUTPUT INSERTED.credential_id, INSERTED.user_id, INSERTED.provider_account_id,
       INSERTED.credential_public_key, INSERTED.counter, INSERTED.credential_device_type,
       INSERTED.credential_backed_up, INSERTED.transports
WHERE credential_id = :credential_id;
