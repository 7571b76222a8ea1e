-- 0006: searching the audit log, and archiving the records past retention
-- (docs/audit.md: "Searching the log", "Retention and archive").
--
-- audit_index holds, for every audit record, its search terms: one row per
-- (parameter, value) the record answers to ("patient", "Patient/123"),
-- filled by the writer in the transaction that appends the record (so it
-- is never behind the log) from the same JSON it chains. A search seeks
-- the most selective term's (name, value) range in seq order and checks
-- the others by primary key, newest first, so a page costs a few seeks
-- whatever the log's size. The event itself stays in audit_event, exactly
-- as chained.
CREATE TABLE audit_index (
	name  TEXT    NOT NULL,
	value TEXT    NOT NULL,
	seq   INTEGER NOT NULL,
	PRIMARY KEY (name, value, seq)
) WITHOUT ROWID;

-- The records written before this migration are indexed by the store when
-- it first opens the database (the terms come from the JSON, in Go), in
-- seq order: done is the last seq indexed, through the last to do.
CREATE TABLE audit_index_backfill (
	done    INTEGER NOT NULL,
	through INTEGER NOT NULL
);
INSERT INTO audit_index_backfill (done, through) SELECT 0, coalesce(max(seq), 0) FROM audit_event;

-- A purge: the records up to through_seq (whose hash is hash) went to an
-- archive file and were deleted, in the transaction that inserted this
-- row. The first record left has prev_hash = hash of the newest purge: the
-- marker anchors the chain that remains. signature is the Ed25519
-- signature of the audit key over the marker (auditchain.SignPurge), so a
-- marker cannot be forged by someone without the key.
CREATE TABLE audit_purge (
	through_seq INTEGER PRIMARY KEY,
	hash        BLOB    NOT NULL,
	created     INTEGER NOT NULL, -- unix milliseconds
	records     INTEGER NOT NULL,
	archive     TEXT    NOT NULL, -- the archive file's name, as given
	archive_sha256 BLOB NOT NULL, -- of the archive file's bytes
	key_id      TEXT    NOT NULL,
	signature   BLOB    NOT NULL
);
CREATE TRIGGER audit_purge_no_update BEFORE UPDATE ON audit_purge
BEGIN
	SELECT RAISE(ABORT, 'audit_purge is append-only');
END;
CREATE TRIGGER audit_purge_no_delete BEFORE DELETE ON audit_purge
BEGIN
	SELECT RAISE(ABORT, 'audit_purge is append-only');
END;

-- A record may be deleted only once a purge marker covers it: the purge
-- inserts the marker first, then deletes, in one transaction.
DROP TRIGGER audit_event_no_delete;
CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON audit_event
WHEN OLD.seq > coalesce((SELECT max(through_seq) FROM audit_purge), 0)
BEGIN
	SELECT RAISE(ABORT, 'audit_event is append-only');
END;

CREATE TRIGGER audit_index_no_update BEFORE UPDATE ON audit_index
BEGIN
	SELECT RAISE(ABORT, 'audit_index is append-only');
END;
CREATE TRIGGER audit_index_no_delete BEFORE DELETE ON audit_index
WHEN OLD.seq > coalesce((SELECT max(through_seq) FROM audit_purge), 0)
BEGIN
	SELECT RAISE(ABORT, 'audit_index is append-only');
END;
