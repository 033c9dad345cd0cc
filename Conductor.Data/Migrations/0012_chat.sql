-- Chat. Postgres holds every message before anyone receives it; Redis only fans stored messages out.

-- One row per room: the last sequence number handed out and the last timestamp. The row is locked by the upsert
-- that assigns a message its seq, so seq order is commit order, per room, whichever Api instance wrote it, and a
-- rolled-back insert gives its number back (no gaps: a receiver that sees a gap knows a message is still coming).
CREATE TABLE chat_room_sequences (
    room_id     uuid        PRIMARY KEY REFERENCES rooms (id) ON DELETE CASCADE,
    last_seq    bigint      NOT NULL CHECK (last_seq >= 1),
    last_at     timestamptz NOT NULL
);

CREATE TABLE messages (
    -- Client-supplied ids make a resend idempotent; the server picks one when the client does not.
    id          uuid        PRIMARY KEY,
    room_id     uuid        NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    seq         bigint      NOT NULL,
    user_id     uuid        NULL REFERENCES users (id),   -- null for system messages
    login       text        NOT NULL,
    kind        text        NOT NULL CHECK (kind IN ('text', 'code_snippet', 'file', 'system', 'ai')),
    -- A JSON string for text/system/ai, an object for code_snippet and file.
    content     jsonb       NOT NULL,
    reply_to    uuid        NULL,
    -- Strictly increasing per room (see chat_room_sequences), so "since <timestamp>" never skips a message.
    created_at  timestamptz NOT NULL,
    CONSTRAINT messages_room_seq UNIQUE (room_id, seq)
);

CREATE INDEX messages_room_created ON messages (room_id, created_at);

-- The last message each member has read, only ever moved forward.
CREATE TABLE chat_read_receipts (
    room_id     uuid        NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    user_id     uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    message_id  uuid        NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    seq         bigint      NOT NULL,
    read_at     timestamptz NOT NULL,
    PRIMARY KEY (room_id, user_id)
);
