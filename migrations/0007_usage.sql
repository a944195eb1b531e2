-- Daily roll-ups of runs for the analytics pages, updated in the transaction that records the
-- runs. workspace_id is the nil UUID for the rows that sum every workspace, so it has no
-- foreign key; a deleted workspace's rows are removed with it by the store.
-- dim: 0 everything (key ''), 1 model, 2 user id, 3 template id ('' for none).

CREATE TABLE usage_daily (
    workspace_id   uuid     NOT NULL,
    dim            smallint NOT NULL,
    day            date     NOT NULL,
    key            text     NOT NULL,
    runs           bigint   NOT NULL,
    failed         bigint   NOT NULL,
    input_tokens   bigint   NOT NULL,
    output_tokens  bigint   NOT NULL,
    cost_micro_usd bigint   NOT NULL,
    latency_ms     bigint   NOT NULL,
    PRIMARY KEY (workspace_id, dim, day, key)
);

-- Runs per latency bucket (see domain/usage.rs), per model and day.
CREATE TABLE usage_latency (
    workspace_id uuid     NOT NULL,
    day          date     NOT NULL,
    model        text     NOT NULL,
    bucket       smallint NOT NULL,
    runs         bigint   NOT NULL,
    PRIMARY KEY (workspace_id, day, model, bucket)
);

-- Runs recorded before this migration are rolled up by the server once, at its next start.
CREATE TABLE usage_backfill_pending (pending boolean PRIMARY KEY);
INSERT INTO usage_backfill_pending VALUES (true);
