-- The audit log's own file on SQLite (auditfile.go): the tables that
-- migrations 0001-0008 of the database file made, as they stood after
-- 0008, and two of its own. The rows of an older database's log are copied
-- in (copyAuditTables) before migration 0009 of the database file drops
-- its tables; the single-row tables audit_chain and audit_indexed get their
-- row from there.

CREATE TABLE audit_event (
	seq       INTEGER PRIMARY KEY,
	recorded  INTEGER NOT NULL, -- unix milliseconds
	event     BLOB    NOT NULL,
	prev_hash BLOB,
	hash      BLOB
);
CREATE INDEX audit_event_unchained ON audit_event (seq) WHERE hash IS NULL;

CREATE TABLE audit_chain (
	legacy_through INTEGER NOT NULL
);

CREATE TABLE audit_checkpoint (
	seq       INTEGER PRIMARY KEY,
	hash      BLOB    NOT NULL,
	created   INTEGER NOT NULL,
	key_id    TEXT    NOT NULL,
	signature BLOB    NOT NULL
);

CREATE TABLE audit_purge (
	through_seq    INTEGER PRIMARY KEY,
	hash           BLOB    NOT NULL,
	created        INTEGER NOT NULL, -- unix milliseconds
	records        INTEGER NOT NULL,
	archive        TEXT    NOT NULL, -- the archive file's name, as given
	archive_sha256 BLOB    NOT NULL, -- of the archive file's bytes
	key_id         TEXT    NOT NULL,
	signature      BLOB    NOT NULL
);

CREATE TABLE audit_indexed (
	through INTEGER NOT NULL
);

CREATE TABLE audit_posting (
	name  TEXT    NOT NULL,
	key   TEXT    NOT NULL,
	last  INTEGER NOT NULL,
	first INTEGER NOT NULL,
	seqs  BLOB    NOT NULL,
	PRIMARY KEY (name, key, last)
) WITHOUT ROWID;

-- Which database file this log belongs to: the database file keeps the
-- same id (its audit_file), and the store refuses to open a pair that
-- differ, so that a lost or swapped log is never silently started afresh.
-- copied is set once the rows of the database file's own audit tables
-- are in (copyAuditTables).
CREATE TABLE audit_file (
	id     BLOB    NOT NULL,
	copied INTEGER NOT NULL DEFAULT 0
);
INSERT INTO audit_file (id) VALUES (randomblob(16));

-- The last audit_outbox id (in the database file) chained into this log:
-- moving a write's records and raising it commit together here.
CREATE TABLE audit_outbox_moved (
	through INTEGER NOT NULL
);
INSERT INTO audit_outbox_moved (through) VALUES (0);

CREATE TRIGGER audit_event_seal BEFORE UPDATE ON audit_event
WHEN OLD.hash IS NOT NULL OR NEW.seq IS NOT OLD.seq OR NEW.recorded IS NOT OLD.recorded OR NEW.event IS NOT OLD.event
BEGIN
	SELECT RAISE(ABORT, 'audit_event is append-only');
END;
CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON audit_event
WHEN OLD.seq > coalesce((SELECT max(through_seq) FROM audit_purge), 0)
BEGIN
	SELECT RAISE(ABORT, 'audit_event is append-only');
END;
CREATE TRIGGER audit_checkpoint_no_update BEFORE UPDATE ON audit_checkpoint
BEGIN
	SELECT RAISE(ABORT, 'audit_checkpoint is append-only');
END;
CREATE TRIGGER audit_checkpoint_no_delete BEFORE DELETE ON audit_checkpoint
BEGIN
	SELECT RAISE(ABORT, 'audit_checkpoint is append-only');
END;
CREATE TRIGGER audit_chain_no_update BEFORE UPDATE ON audit_chain
BEGIN
	SELECT RAISE(ABORT, 'audit_chain is fixed');
END;
CREATE TRIGGER audit_chain_no_delete BEFORE DELETE ON audit_chain
BEGIN
	SELECT RAISE(ABORT, 'audit_chain is fixed');
END;
CREATE TRIGGER audit_purge_no_update BEFORE UPDATE ON audit_purge
BEGIN
	SELECT RAISE(ABORT, 'audit_purge is append-only');
END;
CREATE TRIGGER audit_purge_no_delete BEFORE DELETE ON audit_purge
BEGIN
	SELECT RAISE(ABORT, 'audit_purge is append-only');
END;
CREATE TRIGGER audit_file_no_delete BEFORE DELETE ON audit_file
BEGIN
	SELECT RAISE(ABORT, 'audit_file is fixed');
END;
