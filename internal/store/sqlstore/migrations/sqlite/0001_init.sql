-- 0001: resource versions, the current-version table and the audit log.
--
-- Every write appends one row to resource_version; seq (the rowid) is the
-- store-wide order of writes and the history cursor. The writer keeps
-- last_updated (unix milliseconds, the precision of meta.lastUpdated)
-- non-decreasing in seq order, so a time bound (_since, _at) becomes a seq
-- bound found with one seek on resource_version_time.

CREATE TABLE resource_version (
	seq          INTEGER PRIMARY KEY,
	type         TEXT    NOT NULL,
	id           TEXT    NOT NULL,
	version_id   INTEGER NOT NULL,
	last_updated INTEGER NOT NULL,
	deleted      INTEGER NOT NULL DEFAULT 0,
	-- The resource's JSON as returned to clients (meta.versionId and
	-- meta.lastUpdated set); NULL for a tombstone.
	resource     BLOB
);

-- vread, instance history, and the next-version probe of _at.
CREATE UNIQUE INDEX resource_version_instance ON resource_version (type, id, version_id);
-- type history, newest first by seq.
CREATE INDEX resource_version_type ON resource_version (type, seq);
-- _since and _at: the first seq at or after a time.
CREATE INDEX resource_version_time ON resource_version (last_updated);

-- The current version of every resource, deleted ones included (their
-- tombstone). Read by id is one lookup here and one rowid lookup in
-- resource_version; search index tables (later migrations) key on it.
CREATE TABLE resource_current (
	type       TEXT    NOT NULL,
	id         TEXT    NOT NULL,
	version_id INTEGER NOT NULL,
	seq        INTEGER NOT NULL REFERENCES resource_version (seq),
	deleted    INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (type, id)
) WITHOUT ROWID;

-- The audit log: AuditEvent JSON in the order recorded. Append-only; a later
-- migration adds hash chaining.
CREATE TABLE audit_event (
	seq      INTEGER PRIMARY KEY,
	recorded INTEGER NOT NULL, -- unix milliseconds
	event    BLOB    NOT NULL
);

CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event
BEGIN
	SELECT RAISE(ABORT, 'audit_event is append-only');
END;

CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON audit_event
BEGIN
	SELECT RAISE(ABORT, 'audit_event is append-only');
END;
