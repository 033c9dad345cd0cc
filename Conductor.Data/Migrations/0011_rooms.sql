-- Rooms and their members. A room exists only once someone created it; nobody reaches it without membership.
CREATE TABLE rooms (
    id            uuid        PRIMARY KEY,
    name          text        NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    host_user_id  uuid        NOT NULL REFERENCES users (id),
    created_at    timestamptz NOT NULL,
    -- Set when the host ends the session: the room stays readable and becomes read-only.
    ended_at      timestamptz NULL
);

CREATE TABLE room_members (
    room_id    uuid        NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    user_id    uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role       text        NOT NULL CHECK (role IN ('host', 'guest')),
    joined_at  timestamptz NOT NULL,
    PRIMARY KEY (room_id, user_id)
);

CREATE INDEX room_members_user ON room_members (user_id);

-- Exactly one host per room, enforced by the database as well as by the transfer code.
CREATE UNIQUE INDEX room_members_one_host ON room_members (room_id) WHERE role = 'host';

-- Invites: the token is signed and carries this row's id; the row holds what the token cannot (single use).
CREATE TABLE room_invites (
    id          uuid        PRIMARY KEY,
    room_id     uuid        NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    created_by  uuid        NOT NULL REFERENCES users (id),
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    single_use  boolean     NOT NULL,
    used_at     timestamptz NULL,
    used_by     uuid        NULL REFERENCES users (id)
);

CREATE INDEX room_invites_room ON room_invites (room_id);

-- Who the host removed, and when: an invite issued before the removal cannot bring them back.
CREATE TABLE room_removals (
    room_id     uuid        NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    user_id     uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    removed_by  uuid        NOT NULL REFERENCES users (id),
    removed_at  timestamptz NOT NULL,
    PRIMARY KEY (room_id, user_id)
);
