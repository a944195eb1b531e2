-- Provider connections and runs.

CREATE TABLE provider_connections (
    id           uuid        PRIMARY KEY,
    -- NULL for an instance-wide connection, else the workspace it belongs to.
    workspace_id uuid        REFERENCES workspaces (id) ON DELETE CASCADE,
    name         text        NOT NULL,
    kind         text        NOT NULL,
    base_url     text        NOT NULL,
    -- The API key sealed under the master key (version byte, nonce, ciphertext); never plain.
    sealed_key   bytea,
    models       text[]      NOT NULL DEFAULT '{}',
    created_by   uuid        REFERENCES users (id) ON DELETE SET NULL,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    CONSTRAINT provider_connections_kind_check
        CHECK (kind IN ('openai', 'anthropic', 'google', 'openai-compatible'))
);

CREATE INDEX provider_connections_workspace_idx ON provider_connections (workspace_id);

CREATE TABLE runs (
    id               uuid        PRIMARY KEY,
    workspace_id     uuid        NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    user_id          uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    template_id      uuid        REFERENCES templates (id) ON DELETE SET NULL,
    template_version integer,
    connection_id    uuid        REFERENCES provider_connections (id) ON DELETE SET NULL,
    provider         text,
    model            text        NOT NULL,
    input_tokens     bigint      NOT NULL,
    output_tokens    bigint      NOT NULL,
    -- NULL when the model's price is unknown.
    cost_usd         double precision,
    latency_ms       bigint      NOT NULL,
    ttft_ms          bigint,
    state            text        NOT NULL,
    error            text,
    prompt           text        NOT NULL,
    output           text        NOT NULL,
    context_manifest jsonb,
    created_at       timestamptz NOT NULL,
    CONSTRAINT runs_state_check CHECK (state IN ('completed', 'failed', 'truncated', 'cancelled'))
);

-- History pages list a workspace's runs newest first; ids are time-ordered UUIDv7.
CREATE INDEX runs_workspace_idx ON runs (workspace_id, id DESC);
