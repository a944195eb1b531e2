-- Identity: linked OpenID provider accounts, profile pictures, and the workspace of an audit
-- event (so a workspace's admins can read its part of the log).

ALTER TABLE users ADD COLUMN avatar text;

-- No foreign key: the log keeps a deleted workspace's events.
ALTER TABLE audit_events ADD COLUMN workspace_id uuid;
CREATE INDEX audit_events_workspace_idx ON audit_events (workspace_id, id)
    WHERE workspace_id IS NOT NULL;
CREATE INDEX audit_events_action_idx ON audit_events (action, id);

CREATE TABLE user_identities (
    -- The provider's id in the configuration.
    provider      text        NOT NULL,
    -- The provider's subject identifier (`sub`), stable per provider account.
    subject       text        NOT NULL,
    user_id       uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    email         text,
    created_at    timestamptz NOT NULL,
    last_login_at timestamptz,
    PRIMARY KEY (provider, subject),
    -- One account per provider per user.
    CONSTRAINT user_identities_user_provider_key UNIQUE (user_id, provider)
);
