-- Every call a coding agent makes through the MCP server (/mcp), allowed or refused. Append-only like audit_log:
-- the database refuses UPDATE, DELETE and TRUNCATE whatever the client.
CREATE TABLE mcp_calls (
    seq            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id        uuid        NOT NULL REFERENCES users (id),
    tool           text        NOT NULL,
    -- Null for tools that are not about one room (list_rooms) or when the room id did not parse.
    room_id        uuid        NULL,
    outcome        text        NOT NULL CHECK (outcome IN ('ok', 'refused', 'failed')),
    detail         text        NULL,
    created_at     timestamptz NOT NULL
);

CREATE INDEX mcp_calls_user_created ON mcp_calls (user_id, created_at);

CREATE FUNCTION mcp_calls_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'mcp_calls is append-only: % is not allowed', TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER mcp_calls_no_update_or_delete BEFORE UPDATE OR DELETE ON mcp_calls
    FOR EACH ROW EXECUTE FUNCTION mcp_calls_refuse_change();

CREATE TRIGGER mcp_calls_no_truncate BEFORE TRUNCATE ON mcp_calls
    FOR EACH STATEMENT EXECUTE FUNCTION mcp_calls_refuse_change();
