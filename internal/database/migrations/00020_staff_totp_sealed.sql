-- Staff TOTP secrets encrypted at rest (package totpsecret), under
-- CONSULAR_TOTP_KEY. SQL has no key, so this migration cannot encrypt: it
-- adds the marker. totp_key_id NULL means totp_secret is still the base32
-- secret in clear; otherwise totp_secret is base64(nonce || AES-256-GCM
-- ciphertext) under the key with that ID. The API encrypts a clear secret at
-- its start, at the member's next sign-in, and with `api staff encrypt-totp`.
-- +goose Up
ALTER TABLE staff ADD COLUMN totp_key_id text;
COMMENT ON COLUMN staff.totp_secret IS 'base32 in clear when totp_key_id is NULL; else base64(nonce || AES-256-GCM ciphertext)';
COMMENT ON COLUMN staff.totp_key_id IS 'ID of the CONSULAR_TOTP_KEY key that sealed totp_secret; NULL: not yet sealed';

-- +goose Down
-- Going back needs the secrets in clear, which only the API can give:
-- refuse rather than leave ciphertext an older API would read as base32.
-- +goose StatementBegin
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM staff WHERE totp_key_id IS NOT NULL) THEN
        RAISE EXCEPTION 'staff TOTP secrets are encrypted; an older API cannot read them (re-invite the members after going back, or restore a backup)';
    END IF;
END $$;
-- +goose StatementEnd
ALTER TABLE staff DROP COLUMN totp_key_id;
