-- 0007: audit_index is written in bulk (docs/audit.md: "Searching the
-- log"). The writer no longer indexes each record in the transaction that
-- appends it: every auditIndexEvery records, and before any audit search,
-- it indexes the records after audit_indexed.through, and
-- moves through on in the same transaction. A record after through is in
-- the log, chained and durable, but not yet searchable until then; a crash
-- loses nothing, as the next indexing reads such records from the log.
--
-- The records an unfinished backfill (0006) had still to index are after
-- its done mark; the records appended since 0006 are indexed already, and
-- indexing one again is harmless (INSERT OR IGNORE).
CREATE TABLE audit_indexed (
	through INTEGER NOT NULL
);
INSERT INTO audit_indexed (through)
	SELECT CASE WHEN done >= through THEN (SELECT coalesce(max(seq), 0) FROM audit_event) ELSE done END
	FROM audit_index_backfill;
DROP TABLE audit_index_backfill;
