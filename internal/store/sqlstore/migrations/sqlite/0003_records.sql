-- 0003: infrastructure records (store.Record): user accounts, sessions,
-- OAuth2 clients, signing keys. Never patient data. Value is opaque to the
-- store; expires is unix milliseconds, 0 for never.
CREATE TABLE record (
	kind    TEXT    NOT NULL,
	key     TEXT    NOT NULL,
	owner   TEXT    NOT NULL DEFAULT '',
	version INTEGER NOT NULL,
	expires INTEGER NOT NULL DEFAULT 0,
	value   BLOB    NOT NULL,
	PRIMARY KEY (kind, key)
) WITHOUT ROWID;
CREATE INDEX record_owner ON record (kind, owner, key) WHERE owner <> '';
CREATE INDEX record_expires ON record (expires) WHERE expires <> 0;
