-- 0008: the audit index keeps posting lists (docs/audit.md: "Searching the
-- log"). audit_index held a row per search term of each record, six for a
-- read, and inserting them was the largest part of what auditing cost a
-- read. Now each indexing pass (auditindex.go) writes one row per distinct
-- term: the term's records in that pass, as a list. A pass covers a
-- contiguous range of seq after audit_indexed.through, so the rows of one
-- term cover disjoint ranges, ordered by last.
--
-- key is the term's value, except for _id: a UUIDv7 id is listed under its
-- first 13 characters (its creation millisecond), so that records created
-- in the same millisecond share a row; a search checks each candidate
-- record's own terms, which makes the key's coarseness invisible.
--
-- seqs lists the records after first, as unsigned varint differences from
-- the record before (first itself is not repeated).
DROP TABLE audit_index;
CREATE TABLE audit_posting (
	name  TEXT    NOT NULL,
	key   TEXT    NOT NULL,
	last  INTEGER NOT NULL,
	first INTEGER NOT NULL,
	seqs  BLOB    NOT NULL,
	PRIMARY KEY (name, key, last)
) WITHOUT ROWID;

-- Every record still in the log is indexed again, from the log itself,
-- when the store next opens (catchUpAuditIndex).
UPDATE audit_indexed SET through = coalesce((SELECT max(through_seq) FROM audit_purge), 0);
