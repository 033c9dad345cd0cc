-- The audit trail of change decisions. Append-only, and the database enforces it: no UPDATE, DELETE or TRUNCATE,
-- whatever the application (or a mistaken script) asks.
CREATE TABLE audit_log (
    seq            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id             uuid        NOT NULL UNIQUE,
    room_id        uuid        NOT NULL REFERENCES rooms (id),
    user_id        uuid        NOT NULL REFERENCES users (id),
    action         text        NOT NULL CHECK (action IN ('applied', 'skipped', 'refused')),
    -- 'server': apply through the Api; 'client': a decision a client reported through /audit/log-apply.
    source         text        NOT NULL CHECK (source IN ('server', 'client')),
    change_set_id  uuid        NULL,
    change_id      uuid        NULL,
    file_path      text        NOT NULL,
    detail         text        NULL,
    created_at     timestamptz NOT NULL
);

CREATE INDEX audit_log_room_created ON audit_log (room_id, created_at, seq);

CREATE FUNCTION audit_log_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % is not allowed', TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER audit_log_no_update_or_delete BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_refuse_change();

CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change();
