-- AI-generated change sets and their changes. Each change keeps the etag of the file as it was read, so apply can
-- refuse a change whose file moved on since.
CREATE TABLE change_sets (
    id             uuid        PRIMARY KEY,
    room_id        uuid        NOT NULL REFERENCES rooms (id),
    created_by     uuid        NOT NULL REFERENCES users (id),
    agent          text        NOT NULL,
    provider       text        NOT NULL,
    model          text        NOT NULL,
    instruction    text        NOT NULL,
    -- The paths given as context: the policy treats changes outside them as riskier.
    context_files  text[]      NOT NULL DEFAULT '{}',
    created_at     timestamptz NOT NULL
);

CREATE INDEX change_sets_room_created ON change_sets (room_id, created_at);

CREATE TABLE changes (
    id             uuid        PRIMARY KEY,
    change_set_id  uuid        NOT NULL REFERENCES change_sets (id),
    ordinal        integer     NOT NULL,
    file_path      text        NOT NULL,
    type           text        NOT NULL CHECK (type IN ('create', 'modify', 'delete')),
    content        text        NULL,
    diff           text        NOT NULL,
    rationale      text        NOT NULL,
    -- Null: the file did not exist when the change was generated (a create).
    base_etag      text        NULL,
    status         text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'applied')),
    applied_by     uuid        NULL,
    applied_at     timestamptz NULL,
    UNIQUE (change_set_id, ordinal),
    CHECK ((type = 'delete') = (content IS NULL))
);
