-- 0009: a batch of audit events appended in one statement (auditchain.go,
-- appendAuditAtOnce). An audited read's batch took four round trips to the
-- server (BEGIN, the lock and the tip, the INSERT, COMMIT); between two
-- servers on a network each costs the reads waiting on it. audit_append
-- takes the audit lock, reads the tip, chains the events and inserts them,
-- as one statement and so one transaction.
--
-- The hash is auditchain.Hash, byte for byte: SHA-256 over the domain
-- "emr audit record v1" and a zero byte, the previous hash's length (one
-- byte) and the hash, then seq, recorded and the event's length as 8
-- bytes big-endian (int8send), then the event. The store's tests append
-- through this function and verify the chain in Go.
--
-- A tip without a hash (a record from before 0004 not yet chained, or one
-- tampered with) raises SQLSTATE EA001: the writer then takes the path
-- that chains old records or refuses to append.
CREATE FUNCTION audit_append(lock_key BIGINT, recorded BIGINT[], events BYTEA[])
RETURNS TABLE (first_seq BIGINT, last_seq BIGINT, last_hash BYTEA)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
	domain CONSTANT BYTEA := convert_to('emr audit record v1', 'UTF8') || '\x00'::bytea;
	tip    BIGINT;
	h      BYTEA;
	s      BIGINT;
	seqs   BIGINT[] := '{}';
	prevs  BYTEA[] := '{}';
	hashes BYTEA[] := '{}';
BEGIN
	PERFORM pg_advisory_xact_lock(lock_key);
	SELECT a.seq, a.hash INTO tip, h FROM audit_event a ORDER BY a.seq DESC LIMIT 1;
	IF tip IS NOT NULL AND h IS NULL THEN
		RAISE EXCEPTION 'audit record % has no hash', tip USING ERRCODE = 'EA001';
	END IF;
	s := coalesce(tip, 0);
	h := coalesce(h, ''::bytea);
	first_seq := s + 1;
	FOR i IN 1 .. coalesce(array_length(events, 1), 0) LOOP
		s := s + 1;
		prevs := array_append(prevs, h);
		h := sha256(domain || set_byte('\x00'::bytea, 0, length(h)) || h || int8send(s)
			|| int8send(recorded[i]) || int8send(length(events[i])::bigint) || events[i]);
		seqs := array_append(seqs, s);
		hashes := array_append(hashes, h);
	END LOOP;
	INSERT INTO audit_event (seq, recorded, event, prev_hash, hash)
		SELECT * FROM unnest(seqs, recorded, events, prevs, hashes);
	last_seq := s;
	last_hash := h;
	RETURN NEXT;
END;
$$;
