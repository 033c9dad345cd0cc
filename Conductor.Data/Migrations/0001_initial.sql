-- Jobs handed from the Api to the GitWorker. Postgres holds the record; Redis only carries a pointer (job_id),
-- so a job survives Redis losing its data. room_id gets its foreign key when the rooms table arrives.
CREATE TABLE jobs (
    id               uuid        PRIMARY KEY,
    room_id          uuid        NOT NULL,
    kind             text        NOT NULL,
    -- Never secrets: credentials reach the worker from memory, not through the job record.
    payload          jsonb       NOT NULL DEFAULT '{}'::jsonb,
    status           text        NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'dead')),
    attempts         integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    max_attempts     integer     NOT NULL CHECK (max_attempts >= 1),
    -- Jobs sharing a key (a room's workspace) never run at the same time.
    concurrency_key  text        NULL,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    started_at       timestamptz NULL,
    finished_at      timestamptz NULL,
    next_attempt_at  timestamptz NULL,
    -- Last time the job was put on the stream or the delayed set; the recovery sweep re-sends old ones.
    dispatched_at    timestamptz NULL,
    -- The running attempt's owner and how long its claim lasts without a heartbeat: a dead worker's claim expires.
    locked_by        text        NULL,
    lease_expires_at timestamptz NULL,
    error            text        NULL,
    result           jsonb       NULL
);

CREATE INDEX jobs_room_created ON jobs (room_id, created_at DESC);

-- What the recovery sweep scans.
CREATE INDEX jobs_unfinished ON jobs (status, next_attempt_at) WHERE status IN ('queued', 'running');

-- The database, not only the claim query, guarantees one running job per concurrency key.
CREATE UNIQUE INDEX jobs_one_running_per_key ON jobs (concurrency_key)
    WHERE status = 'running' AND concurrency_key IS NOT NULL;
