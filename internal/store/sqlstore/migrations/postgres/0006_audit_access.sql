-- 0006: searching the audit log, and archiving the records past retention.
-- The same logical schema as migrations/sqlite/0006_audit_access.sql (read
-- its comments).
CREATE TABLE audit_index (
	name  TEXT   COLLATE "C" NOT NULL,
	value TEXT   COLLATE "C" NOT NULL,
	seq   BIGINT NOT NULL,
	PRIMARY KEY (name, value, seq)
);

CREATE TABLE audit_index_backfill (
	done    BIGINT NOT NULL,
	through BIGINT NOT NULL
);
INSERT INTO audit_index_backfill (done, through) SELECT 0, coalesce(max(seq), 0) FROM audit_event;

CREATE TABLE audit_purge (
	through_seq    BIGINT PRIMARY KEY,
	hash           BYTEA  NOT NULL,
	created        BIGINT NOT NULL,
	records        BIGINT NOT NULL,
	archive        TEXT   COLLATE "C" NOT NULL,
	archive_sha256 BYTEA  NOT NULL,
	key_id         TEXT   COLLATE "C" NOT NULL,
	signature      BYTEA  NOT NULL
);
CREATE TRIGGER audit_purge_append_only BEFORE UPDATE OR DELETE ON audit_purge
	FOR EACH ROW EXECUTE FUNCTION audit_event_append_only();
CREATE TRIGGER audit_purge_no_truncate BEFORE TRUNCATE ON audit_purge
	FOR EACH STATEMENT EXECUTE FUNCTION audit_event_append_only();

-- A record may be deleted only once a purge marker covers it.
CREATE FUNCTION audit_event_purge_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF OLD.seq <= (SELECT coalesce(max(through_seq), 0) FROM audit_purge) THEN
		RETURN OLD;
	END IF;
	RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END;
$$;
DROP TRIGGER audit_event_no_delete ON audit_event;
CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON audit_event
	FOR EACH ROW EXECUTE FUNCTION audit_event_purge_only();

CREATE TRIGGER audit_index_no_update BEFORE UPDATE ON audit_index
	FOR EACH ROW EXECUTE FUNCTION audit_event_append_only();
CREATE TRIGGER audit_index_no_delete BEFORE DELETE ON audit_index
	FOR EACH ROW EXECUTE FUNCTION audit_event_purge_only();
CREATE TRIGGER audit_index_no_truncate BEFORE TRUNCATE ON audit_index
	FOR EACH STATEMENT EXECUTE FUNCTION audit_event_append_only();
