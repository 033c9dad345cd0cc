-- Shared git workspaces (issue 5). One bare object store per normalised remote, shared by every room on it;
-- one worktree per room on branch session/{room_id}.
CREATE TABLE workspace_stores (
    -- Hash of the normalised remote URL; the store's folder is stores/{id}.git.
    id           text        PRIMARY KEY,
    remote_url   text        NOT NULL,
    created_at   timestamptz NOT NULL,
    -- Set when the last room using the store goes; the GitWorker removes it after the grace period.
    unused_since timestamptz NULL
);

CREATE TABLE workspaces (
    room_id     uuid        PRIMARY KEY,
    -- Never carries credentials (validated before it is stored).
    repo_url    text        NOT NULL,
    store_id    text        NOT NULL,
    base_branch text        NOT NULL,
    branch      text        NOT NULL,
    status      text        NOT NULL CHECK (status IN ('creating', 'ready', 'failed', 'deleting')),
    error       text        NULL,
    head_commit text        NULL,
    created_by  uuid        NOT NULL,
    job_id      uuid        NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);

CREATE INDEX workspaces_store ON workspaces (store_id);

-- The remote token of a workspace, as Data Protection ciphertext (never plaintext); gone with its workspace.
CREATE TABLE workspace_credentials (
    room_id         uuid        PRIMARY KEY REFERENCES workspaces (room_id) ON DELETE CASCADE,
    protected_token text        NOT NULL,
    created_at      timestamptz NOT NULL
);

-- A room's workspace goes with the room (rooms: migration 0011).
ALTER TABLE workspaces ADD CONSTRAINT workspaces_room_fk FOREIGN KEY (room_id) REFERENCES rooms (id) ON DELETE CASCADE;
