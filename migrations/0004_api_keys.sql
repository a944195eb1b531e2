-- API keys for the /v1 API, and the key each run came through.

CREATE TABLE api_keys (
    id           uuid        PRIMARY KEY,
    user_id      uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    workspace_id uuid        NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name         text        NOT NULL,
    -- The first characters of the key, shown in lists.
    prefix       text        NOT NULL,
    -- SHA-256 of the key; the key itself is shown once and never stored.
    key_hash     bytea       NOT NULL,
    models       text[]      NOT NULL DEFAULT '{}',
    expires_at   timestamptz,
    created_at   timestamptz NOT NULL,
    last_used_at timestamptz,
    revoked_at   timestamptz,
    CONSTRAINT api_keys_key_hash_key UNIQUE (key_hash),
    CONSTRAINT api_keys_key_hash_check CHECK (octet_length(key_hash) = 32)
);

CREATE INDEX api_keys_user_idx ON api_keys (user_id);

ALTER TABLE runs ADD COLUMN api_key_id uuid REFERENCES api_keys (id) ON DELETE SET NULL;
