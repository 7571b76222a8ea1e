-- 0008: the audit index keeps posting lists. The same logical schema as
-- migrations/sqlite/0008_audit_postings.sql (read its comments).
DROP TABLE audit_index;
CREATE TABLE audit_posting (
	name  TEXT   COLLATE "C" NOT NULL,
	key   TEXT   COLLATE "C" NOT NULL,
	last  BIGINT NOT NULL,
	first BIGINT NOT NULL,
	seqs  BYTEA  NOT NULL,
	PRIMARY KEY (name, key, last)
);

-- A row is never changed; one listing a purged record may be deleted (the
-- purge writes its records after the purged ones again, as a new row).
CREATE FUNCTION audit_posting_purge_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF OLD.first <= (SELECT coalesce(max(through_seq), 0) FROM audit_purge) THEN
		RETURN OLD;
	END IF;
	RAISE EXCEPTION 'audit_posting is append-only';
END;
$$;
CREATE TRIGGER audit_posting_no_update BEFORE UPDATE ON audit_posting
	FOR EACH ROW EXECUTE FUNCTION audit_event_append_only();
CREATE TRIGGER audit_posting_no_delete BEFORE DELETE ON audit_posting
	FOR EACH ROW EXECUTE FUNCTION audit_posting_purge_only();
CREATE TRIGGER audit_posting_no_truncate BEFORE TRUNCATE ON audit_posting
	FOR EACH STATEMENT EXECUTE FUNCTION audit_event_append_only();

UPDATE audit_indexed SET through = coalesce((SELECT max(through_seq) FROM audit_purge), 0);
