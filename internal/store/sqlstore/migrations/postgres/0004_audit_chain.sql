-- 0004: the audit log becomes a hash chain with signed checkpoints. The
-- same logical schema as migrations/sqlite/0004_audit_chain.sql (read its
-- comments). The writer numbers records itself (the last seq plus one,
-- under an advisory lock), so the identity's sequence is no longer used.
ALTER TABLE audit_event ADD COLUMN prev_hash BYTEA, ADD COLUMN hash BYTEA;

DROP TRIGGER audit_event_no_update ON audit_event;
CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON audit_event
	FOR EACH ROW EXECUTE FUNCTION audit_event_append_only();

-- An update may only set the hash of a record that has none.
CREATE FUNCTION audit_event_seal() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF OLD.hash IS NULL AND NEW.seq = OLD.seq AND NEW.recorded = OLD.recorded AND NEW.event = OLD.event THEN
		RETURN NEW;
	END IF;
	RAISE EXCEPTION 'audit_event is append-only';
END;
$$;
CREATE TRIGGER audit_event_seal BEFORE UPDATE ON audit_event
	FOR EACH ROW EXECUTE FUNCTION audit_event_seal();

-- The audit lock and the chain's tip in one round trip, for the writer's
-- every batch: a VOLATILE function takes a fresh snapshot for each
-- statement, so the SELECT after the lock sees every append committed
-- before the lock was granted.
CREATE FUNCTION audit_lock_tip(lock_key BIGINT) RETURNS TABLE (seq BIGINT, hash BYTEA)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
	PERFORM pg_advisory_xact_lock(lock_key);
	RETURN QUERY SELECT a.seq, a.hash FROM audit_event a ORDER BY a.seq DESC LIMIT 1;
END;
$$;

CREATE INDEX audit_event_unchained ON audit_event (seq) WHERE hash IS NULL;

CREATE TABLE audit_chain (
	legacy_through BIGINT NOT NULL
);
INSERT INTO audit_chain (legacy_through) SELECT coalesce(max(seq), 0) FROM audit_event;

CREATE TABLE audit_checkpoint (
	seq       BIGINT PRIMARY KEY,
	hash      BYTEA  NOT NULL,
	created   BIGINT NOT NULL,
	key_id    TEXT   COLLATE "C" NOT NULL,
	signature BYTEA  NOT NULL
);

CREATE TRIGGER audit_checkpoint_append_only BEFORE UPDATE OR DELETE ON audit_checkpoint
	FOR EACH ROW EXECUTE FUNCTION audit_event_append_only();
CREATE TRIGGER audit_checkpoint_no_truncate BEFORE TRUNCATE ON audit_checkpoint
	FOR EACH STATEMENT EXECUTE FUNCTION audit_event_append_only();
CREATE TRIGGER audit_chain_fixed BEFORE UPDATE OR DELETE ON audit_chain
	FOR EACH ROW EXECUTE FUNCTION audit_event_append_only();
CREATE TRIGGER audit_chain_no_truncate BEFORE TRUNCATE ON audit_chain
	FOR EACH STATEMENT EXECUTE FUNCTION audit_event_append_only();
