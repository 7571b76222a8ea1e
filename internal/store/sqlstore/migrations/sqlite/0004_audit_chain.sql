-- 0004: the audit log becomes a hash chain with signed checkpoints
-- (internal/store/auditchain, docs/audit.md).
--
-- Each record keeps the hash of the record before it (prev_hash, empty for
-- the first) and its own (hash). The writer computes both when it appends,
-- at the end of its batch, so seq order is chain order. Records written
-- before this migration have no hash yet: the store chains them, in seq
-- order, when it first opens the database (a SHA-256 SQLite lacks), which is
-- why the update trigger now lets a record's hash be set once and nothing
-- else change.
ALTER TABLE audit_event ADD COLUMN prev_hash BLOB;
ALTER TABLE audit_event ADD COLUMN hash BLOB;

DROP TRIGGER audit_event_no_update;
CREATE TRIGGER audit_event_seal BEFORE UPDATE ON audit_event
WHEN OLD.hash IS NOT NULL OR NEW.seq IS NOT OLD.seq OR NEW.recorded IS NOT OLD.recorded OR NEW.event IS NOT OLD.event
BEGIN
	SELECT RAISE(ABORT, 'audit_event is append-only');
END;

-- The records still to chain: empty once the first start has chained them,
-- so finding none costs nothing.
CREATE INDEX audit_event_unchained ON audit_event (seq) WHERE hash IS NULL;

-- legacy_through is the last seq written before the chain existed. Above
-- it seq has no gaps (the writer numbers records itself), so a gap there is
-- a removed record; below it a gap may be an old rolled-back append.
CREATE TABLE audit_chain (
	legacy_through INTEGER NOT NULL
);
INSERT INTO audit_chain (legacy_through) SELECT coalesce(max(seq), 0) FROM audit_event;

-- A checkpoint: the chain's record seq had hash hash at created (unix
-- milliseconds), signed with the Ed25519 key key_id names; the key itself is
-- kept outside the database.
CREATE TABLE audit_checkpoint (
	seq       INTEGER PRIMARY KEY,
	hash      BLOB    NOT NULL,
	created   INTEGER NOT NULL,
	key_id    TEXT    NOT NULL,
	signature BLOB    NOT NULL
);

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
