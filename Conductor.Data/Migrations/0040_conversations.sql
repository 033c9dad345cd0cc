-- Agent conversations (Parley): two or more AI bots taking turns on a topic in a room. A turn is stored only when
-- it is complete (one INSERT, with the conversation's turn count in the same transaction), so a crash mid-turn
-- leaves no half-written turn: the conversation resumes at that turn or ends cleanly.
CREATE TABLE conversations (
    id             uuid        PRIMARY KEY,
    room_id        uuid        NOT NULL REFERENCES rooms (id),
    created_by     uuid        NOT NULL REFERENCES users (id),
    topic          text        NOT NULL,
    -- [{name, provider, model, instructions}], changed by PATCH .../bots/{index} for the bot's next turn.
    bots           jsonb       NOT NULL,
    max_turns      integer     NOT NULL CHECK (max_turns > 0),
    turns_done     integer     NOT NULL DEFAULT 0,
    status         text        NOT NULL CHECK (status IN ('running', 'completed', 'stopped', 'failed')),
    error          text        NULL,
    -- The Api instance running it and until when its claim holds; an expired claim is taken over by another
    -- instance (or the same one after a restart), which resumes at the next turn.
    runner         text        NULL,
    lease_until    timestamptz NULL,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    ended_at       timestamptz NULL
);

CREATE INDEX conversations_room_created ON conversations (room_id, created_at);
CREATE INDEX conversations_user_created ON conversations (created_by, created_at);
CREATE INDEX conversations_running ON conversations (lease_until) WHERE status = 'running';

CREATE TABLE conversation_turns (
    conversation_id uuid        NOT NULL REFERENCES conversations (id),
    turn            integer     NOT NULL CHECK (turn >= 0),
    bot_index       integer     NOT NULL,
    bot_name        text        NOT NULL,
    provider        text        NOT NULL,
    model           text        NOT NULL,
    content         text        NOT NULL,
    -- Which generation of the turn this is: a turn cut off by a restart is generated again under a new attempt, and
    -- a resuming stream that saw part of the old one starts the turn over.
    attempt         text        NOT NULL,
    created_at      timestamptz NOT NULL,
    PRIMARY KEY (conversation_id, turn)
);
