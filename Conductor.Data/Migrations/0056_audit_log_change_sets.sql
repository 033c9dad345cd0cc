-- The review state of a change (skipped, refused) is the latest audit entry about it: listing a room's change sets and
-- their pending changes looks entries up by change set, which the (room_id, created_at) index alone would make a scan
-- of the room's whole trail (commands and syncs included).
CREATE INDEX audit_log_change_set ON audit_log (change_set_id, seq) WHERE change_set_id IS NOT NULL;
