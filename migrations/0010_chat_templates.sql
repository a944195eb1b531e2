-- Chat templates: a version's message list, tools, response schema and further model
-- parameters, as one JSON object (NULL for a version that is a system and a user prompt).

ALTER TABLE template_versions ADD COLUMN chat jsonb;
