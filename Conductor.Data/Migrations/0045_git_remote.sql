-- Conductor as a git remote and members' syncs (issue 17).

-- Members the host allows to push to the room's session branches over /git/{room_id}.git (the host always may).
CREATE TABLE room_git_pushers (
    room_id    uuid        NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    user_id    uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    granted_by uuid        NOT NULL REFERENCES users (id),
    granted_at timestamptz NOT NULL,
    PRIMARY KEY (room_id, user_id)
);

-- Syncs, publishes and pushes through the git remote are audited with the change decisions. The trail stays
-- append-only (its triggers refuse row changes; a constraint change is DDL, not a row change).
ALTER TABLE audit_log DROP CONSTRAINT audit_log_action_check;
ALTER TABLE audit_log ADD CONSTRAINT audit_log_action_check
    CHECK (action IN ('applied', 'skipped', 'refused', 'synced', 'sync_conflicts', 'published', 'pushed', 'push_refused'));
