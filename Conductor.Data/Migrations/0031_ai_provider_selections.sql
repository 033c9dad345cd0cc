-- The AI provider each user picked with POST /ai/select; users without a row get the configured default.
CREATE TABLE ai_provider_selections (
    user_id        uuid        PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    provider_name  text        NOT NULL CHECK (length(provider_name) BETWEEN 1 AND 40),
    updated_at     timestamptz NOT NULL
);
