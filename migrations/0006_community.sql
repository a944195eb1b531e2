-- The community library: users' standing (moderator, trusted, reputation), shared prompts with
-- their moderation history, ratings, comments, flags and uses.
--
-- Deleting a user takes their standing, prompts, comments, ratings, flags and uses along;
-- decisions they made as a moderator stay, with the moderator set to NULL. Deleting a prompt
-- takes everything recorded about it along. The counters on community_prompts (rating_sum,
-- rating_count, usage_count, flag_count) and community_standing.reputation are kept by the
-- application in the same transaction as the rows that move them, under a lock on the prompt
-- row (see src/store/postgres/community.rs).

CREATE TABLE community_standing (
    user_id    uuid    PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    moderator  boolean NOT NULL DEFAULT false,
    -- Submissions of trusted users are approved at once.
    trusted    boolean NOT NULL DEFAULT false,
    reputation bigint  NOT NULL DEFAULT 0
);

CREATE TABLE community_prompts (
    id                      uuid        PRIMARY KEY,
    author_id               uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- content.name and content.description, kept in sync with `content` for SQL users and search.
    title                   text        NOT NULL,
    description             text        NOT NULL DEFAULT '',
    -- The whole template content (name, description, tags, prompts, variables, model defaults),
    -- the same shape as a template version.
    content                 jsonb       NOT NULL,
    -- content.tags, kept in sync with `content` for filtering.
    tags                    text[]      NOT NULL DEFAULT '{}',
    -- Models the author suggests.
    models                  text[]      NOT NULL DEFAULT '{}',
    -- Example outputs: a JSON array of {"model", "output"}.
    examples                jsonb       NOT NULL DEFAULT '[]',
    status                  text        NOT NULL,
    -- The reason given with the last decision, shown to the author.
    status_reason           text,
    -- The template version and the run it was shared from. No foreign keys: the prompt keeps
    -- naming its origin after the template or run is deleted.
    source_template_id      uuid,
    source_template_version integer,
    source_run_id           uuid,
    rating_sum              bigint      NOT NULL DEFAULT 0,
    rating_count            bigint      NOT NULL DEFAULT 0,
    -- Forks and runs, at most one per user per day (community_uses).
    usage_count             bigint      NOT NULL DEFAULT 0,
    -- Distinct users who flagged it since it was last approved (community_flags).
    flag_count              integer     NOT NULL DEFAULT 0,
    -- Approved at some point: the author's approval points are given once.
    ever_approved           boolean     NOT NULL DEFAULT false,
    created_at              timestamptz NOT NULL,
    updated_at              timestamptz NOT NULL,
    CONSTRAINT community_prompts_status_check
        CHECK (status IN ('pending', 'approved', 'rejected', 'hidden', 'flagged')),
    CONSTRAINT community_prompts_source_template_check
        CHECK ((source_template_id IS NULL) = (source_template_version IS NULL)),
    CONSTRAINT community_prompts_counters_check
        CHECK (rating_sum >= 0 AND rating_count >= 0 AND usage_count >= 0 AND flag_count >= 0)
);

-- Lists: the public library and the moderation queue by state, newest first (ids are UUIDv7).
CREATE INDEX community_prompts_status_idx ON community_prompts (status, id DESC);
-- An author's prompts, and how many they submitted lately (the submission rate limit).
CREATE INDEX community_prompts_author_idx ON community_prompts (author_id, created_at);
CREATE INDEX community_prompts_created_at_idx ON community_prompts (created_at);
-- "Most used" lists of the public library.
CREATE INDEX community_prompts_usage_idx ON community_prompts (status, usage_count DESC, id DESC);
-- Filters by tag and by suggested model (`tags @> ARRAY[...]`).
CREATE INDEX community_prompts_tags_idx ON community_prompts USING gin (tags);
CREATE INDEX community_prompts_models_idx ON community_prompts USING gin (models);

-- A prompt's moderation history, in order of id.
CREATE TABLE community_decisions (
    id           bigserial   PRIMARY KEY,
    prompt_id    uuid        NOT NULL REFERENCES community_prompts (id) ON DELETE CASCADE,
    -- NULL when the system decided (submission, trust, flags) or the moderator is gone.
    moderator_id uuid        REFERENCES users (id) ON DELETE SET NULL,
    action       text        NOT NULL,
    reason       text        NOT NULL DEFAULT '',
    at           timestamptz NOT NULL,
    CONSTRAINT community_decisions_action_check
        CHECK (action IN ('submitted', 'auto_approved', 'approved', 'rejected', 'hidden', 'flagged'))
);

CREATE INDEX community_decisions_prompt_idx ON community_decisions (prompt_id, id);
CREATE INDEX community_decisions_moderator_idx ON community_decisions (moderator_id);

-- One rating per user and prompt; a new rating replaces the old one.
CREATE TABLE community_ratings (
    prompt_id uuid     NOT NULL REFERENCES community_prompts (id) ON DELETE CASCADE,
    user_id   uuid     NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    stars     smallint NOT NULL,
    PRIMARY KEY (prompt_id, user_id),
    CONSTRAINT community_ratings_stars_check CHECK (stars BETWEEN 1 AND 5)
);

CREATE INDEX community_ratings_user_idx ON community_ratings (user_id);

CREATE TABLE community_comments (
    id         uuid        PRIMARY KEY,
    prompt_id  uuid        NOT NULL REFERENCES community_prompts (id) ON DELETE CASCADE,
    author_id  uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- Markdown source, sanitised when shown.
    body       text        NOT NULL,
    created_at timestamptz NOT NULL,
    edited_at  timestamptz
);

-- A prompt's comments, oldest first (ids are UUIDv7).
CREATE INDEX community_comments_prompt_idx ON community_comments (prompt_id, id);
CREATE INDEX community_comments_author_idx ON community_comments (author_id);

-- Open flags: one per user and prompt, cleared when the prompt is approved again.
CREATE TABLE community_flags (
    prompt_id uuid        NOT NULL REFERENCES community_prompts (id) ON DELETE CASCADE,
    user_id   uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    reason    text        NOT NULL DEFAULT '',
    at        timestamptz NOT NULL,
    PRIMARY KEY (prompt_id, user_id)
);

CREATE INDEX community_flags_user_idx ON community_flags (user_id);

-- Uses (runs and forks) counted, at most one per user, prompt and day (UTC).
CREATE TABLE community_uses (
    prompt_id uuid NOT NULL REFERENCES community_prompts (id) ON DELETE CASCADE,
    user_id   uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    day       date NOT NULL,
    PRIMARY KEY (prompt_id, user_id, day)
);

CREATE INDEX community_uses_user_idx ON community_uses (user_id);
