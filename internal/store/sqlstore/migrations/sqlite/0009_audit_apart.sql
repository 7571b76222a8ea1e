-- 0009: the audit log moves to a file of its own (auditfile.go; docs/audit.md:
-- "The audit log in a file of its own"). Every connection attaches it as
-- the schema "audit", so the statements that name the audit tables without
-- a schema find them there once this file's are gone. Audit-only commits
-- then leave this file, and the readers' page caches, alone.
--
-- Before this migration runs, copyAuditTables has copied the rows of the
-- tables dropped here into the audit file and marked it so (audit.audit_file.copied):
-- the copy committed in the audit file, and only then are they dropped.
--
-- A write and its audit record must commit together, and SQLite commits
-- each file of a transaction on its own. So a write's records go into
-- audit_outbox, in the write's transaction, and are chained into the audit
-- file afterwards; the audit file's audit_outbox_moved says how far, in
-- the same transaction as the chaining. AUTOINCREMENT: an id is never
-- used twice, even after the moved rows are deleted.

CREATE TABLE main.audit_file (
	id BLOB NOT NULL
);
-- NULL, and so a failed migration, unless the copy was made.
INSERT INTO main.audit_file (id) VALUES ((SELECT id FROM audit.audit_file WHERE copied = 1));

CREATE TABLE main.audit_outbox (
	id       INTEGER PRIMARY KEY AUTOINCREMENT,
	recorded INTEGER NOT NULL, -- unix milliseconds
	event    BLOB    NOT NULL
);

DROP TABLE main.audit_event;
DROP TABLE main.audit_chain;
DROP TABLE main.audit_checkpoint;
DROP TABLE main.audit_purge;
DROP TABLE main.audit_indexed;
DROP TABLE main.audit_posting;
