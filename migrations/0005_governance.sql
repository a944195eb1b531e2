-- Gateway governance: per-workspace settings, monthly spend, the response cache, and what a run
-- records about fallbacks and cache hits.

CREATE TABLE gateway_settings (
    workspace_id uuid        PRIMARY KEY REFERENCES workspaces (id) ON DELETE CASCADE,
    settings     jsonb       NOT NULL,
    updated_at   timestamptz NOT NULL
);

-- Spend per member, workspace and calendar month (UTC, 'YYYY-MM'), added to as runs are
-- recorded (in the same transaction) and read when budgets are checked.
CREATE TABLE spend (
    workspace_id uuid             NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    month        text             NOT NULL,
    user_id      uuid             NOT NULL,
    usd          double precision NOT NULL DEFAULT 0,
    PRIMARY KEY (workspace_id, month, user_id)
);

CREATE TABLE response_cache (
    key          bytea       PRIMARY KEY,
    workspace_id uuid        NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    entry        jsonb       NOT NULL,
    expires_at   timestamptz NOT NULL,
    CONSTRAINT response_cache_key_check CHECK (octet_length(key) = 32)
);

CREATE INDEX response_cache_expiry_idx ON response_cache (expires_at);

ALTER TABLE runs ADD COLUMN requested_model text;
ALTER TABLE runs ADD COLUMN cached boolean NOT NULL DEFAULT false;
