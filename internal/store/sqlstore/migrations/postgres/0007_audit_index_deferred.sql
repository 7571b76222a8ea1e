-- 0007: audit_index is written in bulk. The same logical schema as
-- migrations/sqlite/0007_audit_index_deferred.sql (read its comments).
CREATE TABLE audit_indexed (
	through BIGINT NOT NULL
);
INSERT INTO audit_indexed (through)
	SELECT CASE WHEN done >= through THEN (SELECT coalesce(max(seq), 0) FROM audit_event) ELSE done END
	FROM audit_index_backfill;
DROP TABLE audit_index_backfill;
