-- Shared files. Bytes are stored once per SHA-256 (blobs + blob_chunks); a room sees them only through its own
-- files row, so the same bytes in two rooms are two file ids that reveal nothing about each other.
CREATE TABLE blobs (
    sha256      text        PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    -- The chunks are written under a fresh id while the upload streams in, before its hash is known.
    blob_id     uuid        NOT NULL UNIQUE,
    size        bigint      NOT NULL CHECK (size >= 0),
    chunk_size  integer     NOT NULL CHECK (chunk_size > 0),
    created_at  timestamptz NOT NULL
);

CREATE TABLE blob_chunks (
    blob_id  uuid    NOT NULL,
    seq      integer NOT NULL CHECK (seq >= 0),
    data     bytea   NOT NULL,
    PRIMARY KEY (blob_id, seq)
);

CREATE TABLE files (
    id            uuid        PRIMARY KEY,
    room_id       uuid        NOT NULL REFERENCES rooms (id),
    sha256        text        NOT NULL REFERENCES blobs (sha256),
    filename      text        NOT NULL CHECK (length(filename) BETWEEN 1 AND 255),
    content_type  text        NOT NULL CHECK (length(content_type) BETWEEN 1 AND 255),
    size          bigint      NOT NULL CHECK (size >= 0),
    uploaded_by   uuid        NOT NULL REFERENCES users (id),
    created_at    timestamptz NOT NULL,
    -- Dedupe is per room: the same bytes uploaded again into the room return the existing file.
    UNIQUE (room_id, sha256)
);

CREATE INDEX files_room_created ON files (room_id, created_at);
CREATE INDEX files_sha256 ON files (sha256);
