-- The whole chat surface: a connection may drop parameters its provider cannot honour, and a
-- run records every setting that was sent (tools, response format, sampling) and everything
-- beyond text that came back (tool calls, refusal, log probabilities, dropped parameters).

ALTER TABLE provider_connections ADD COLUMN drop_unsupported boolean NOT NULL DEFAULT false;

ALTER TABLE runs ADD COLUMN params jsonb;
ALTER TABLE runs ADD COLUMN detail jsonb;
