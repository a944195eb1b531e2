-- Workspaces with their members and invites; prompt templates with their immutable versions and
-- movable labels; and a small key/value table for one-off facts such as "system templates seeded".
--
-- Deleting a workspace cascades to its members, invites, templates, versions and labels.
-- Deleting a user removes their memberships; templates and versions they wrote keep existing
-- with the author set to NULL.

CREATE TABLE workspaces (
    id         uuid        PRIMARY KEY,
    name       text        NOT NULL,
    -- The user's own workspace, made for them on first use.
    personal   boolean     NOT NULL DEFAULT false,
    created_by uuid        NOT NULL REFERENCES users (id),
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);

-- A user has at most one personal workspace. Concurrent "ensure" calls insert with
-- ON CONFLICT against this index, so exactly one of them creates it.
CREATE UNIQUE INDEX workspaces_one_personal_per_user ON workspaces (created_by) WHERE personal;

CREATE TABLE workspace_members (
    workspace_id uuid        NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    user_id      uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role         text        NOT NULL,
    joined_at    timestamptz NOT NULL,
    PRIMARY KEY (workspace_id, user_id),
    CONSTRAINT workspace_members_role_check CHECK (role IN ('owner', 'admin', 'editor', 'viewer'))
);

-- "Which workspaces does this user belong to?"
CREATE INDEX workspace_members_user_id_idx ON workspace_members (user_id);

CREATE TABLE workspace_invites (
    id           uuid        PRIMARY KEY,
    workspace_id uuid        NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    -- SHA-256 of the token in the invite link; the token itself is never stored.
    token_hash   bytea       NOT NULL,
    -- Role granted on acceptance.
    role         text        NOT NULL,
    created_by   uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    -- Both NULL while the invite is open; set together when it is used.
    accepted_by  uuid        REFERENCES users (id) ON DELETE SET NULL,
    accepted_at  timestamptz,
    CONSTRAINT workspace_invites_token_hash_key UNIQUE (token_hash),
    CONSTRAINT workspace_invites_token_hash_check CHECK (octet_length(token_hash) = 32),
    CONSTRAINT workspace_invites_role_check CHECK (role IN ('owner', 'admin', 'editor', 'viewer'))
);

CREATE INDEX workspace_invites_workspace_id_idx ON workspace_invites (workspace_id);

CREATE TABLE templates (
    id             uuid        PRIMARY KEY,
    -- NULL for the instance-wide system templates.
    workspace_id   uuid        REFERENCES workspaces (id) ON DELETE CASCADE,
    -- Name, description and tags of the latest version, denormalised for lists and search.
    name           text        NOT NULL,
    description    text        NOT NULL DEFAULT '',
    tags           text[]      NOT NULL DEFAULT '{}',
    latest_version integer     NOT NULL,
    created_by     uuid        REFERENCES users (id) ON DELETE SET NULL,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    CONSTRAINT templates_latest_version_check CHECK (latest_version >= 1)
);

CREATE INDEX templates_workspace_id_idx ON templates (workspace_id);

-- Versions are written once and never updated.
CREATE TABLE template_versions (
    template_id          uuid             NOT NULL REFERENCES templates (id) ON DELETE CASCADE,
    version              integer          NOT NULL,
    name                 text             NOT NULL,
    description          text             NOT NULL DEFAULT '',
    tags                 text[]           NOT NULL DEFAULT '{}',
    system_prompt        text             NOT NULL DEFAULT '',
    user_prompt_template text             NOT NULL DEFAULT '',
    -- The declared variables as a JSON array (see src/domain/variables.rs).
    variables            jsonb            NOT NULL DEFAULT '[]',
    -- Model defaults; NULL means "not set".
    model                text,
    temperature          double precision,
    max_tokens           integer,
    message              text             NOT NULL DEFAULT '',
    author               uuid             REFERENCES users (id) ON DELETE SET NULL,
    created_at           timestamptz      NOT NULL,
    PRIMARY KEY (template_id, version),
    CONSTRAINT template_versions_version_check CHECK (version >= 1),
    CONSTRAINT template_versions_variables_check CHECK (jsonb_typeof(variables) = 'array')
);

CREATE TABLE template_labels (
    template_id uuid    NOT NULL REFERENCES templates (id) ON DELETE CASCADE,
    label       text    NOT NULL,
    version     integer NOT NULL,
    PRIMARY KEY (template_id, label),
    -- A label always points at an existing version of its own template.
    FOREIGN KEY (template_id, version) REFERENCES template_versions (template_id, version)
        ON DELETE CASCADE
);

CREATE TABLE meta (
    key   text PRIMARY KEY,
    value text NOT NULL
);
