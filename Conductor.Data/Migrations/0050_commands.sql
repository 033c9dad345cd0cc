-- Commands run in a room's sandbox (issue 15): the host's settings per room, and every run with its outcome.
CREATE TABLE command_settings (
    room_id        uuid        PRIMARY KEY REFERENCES rooms (id) ON DELETE CASCADE,
    -- [{"command":"npm test","options":[...]}, ...]; NULL: the configured defaults.
    allowlist      jsonb       NULL,
    max_concurrent int         NULL CHECK (max_concurrent BETWEEN 1 AND 64),
    network        boolean     NOT NULL DEFAULT false,
    updated_by     uuid        NOT NULL REFERENCES users (id),
    updated_at     timestamptz NOT NULL
);

CREATE TABLE command_runs (
    id               uuid        PRIMARY KEY,
    room_id          uuid        NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    user_id          uuid        NOT NULL REFERENCES users (id),
    login            text        NOT NULL,
    argv             text[]      NOT NULL,
    status           text        NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'timed_out', 'cancelled', 'output_limit', 'error')),
    exit_code        int         NULL,
    timeout_s        int         NOT NULL,
    started_at       timestamptz NOT NULL,
    finished_at      timestamptz NULL,
    duration_ms      bigint      NULL,
    output_bytes     bigint      NOT NULL DEFAULT 0,
    output_truncated boolean     NOT NULL DEFAULT false,
    output_tail      text        NULL
);

CREATE INDEX command_runs_room_started ON command_runs (room_id, started_at DESC);
CREATE INDEX command_runs_running ON command_runs (room_id) WHERE status = 'running';

-- Command runs and refusals join the audit trail (who ran what).
ALTER TABLE audit_log DROP CONSTRAINT audit_log_action_check;
ALTER TABLE audit_log ADD CONSTRAINT audit_log_action_check
    CHECK (action IN ('applied', 'skipped', 'refused', 'synced', 'sync_conflicts', 'published', 'pushed', 'push_refused',
                      'command_run', 'command_refused', 'command_cancelled'));
