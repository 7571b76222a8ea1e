-- 0003: infrastructure records; the same logical schema as
-- migrations/sqlite/0003_records.sql (read its comments).
CREATE TABLE record (
	kind    TEXT   COLLATE "C" NOT NULL,
	key     TEXT   COLLATE "C" NOT NULL,
	owner   TEXT   COLLATE "C" NOT NULL DEFAULT '',
	version BIGINT NOT NULL,
	expires BIGINT NOT NULL DEFAULT 0,
	value   BYTEA  NOT NULL,
	PRIMARY KEY (kind, key)
);
CREATE INDEX record_owner ON record (kind, owner, key) WHERE owner <> '';
CREATE INDEX record_expires ON record (expires) WHERE expires <> 0;
