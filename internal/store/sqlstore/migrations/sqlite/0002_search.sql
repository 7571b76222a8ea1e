-- 0002: the search index.
--
-- resource_key gives every resource a compact integer key (rid) and mirrors
-- what search needs of its current version (seq, last_updated, deleted), so
-- that a search joins index rows to resources by integer and reads the
-- resource JSON with one rowid lookup in resource_version.
--
-- Each index table holds the search.Entry values of one parameter kind for
-- the current, not deleted, version of a resource: a write deletes the
-- resource's rows and inserts the new ones in its own transaction, a delete
-- only removes them. The tables are clustered by (rid, pid, n) (n numbers
-- the entries of one resource), so deleting, sorting and the correlated
-- EXISTS probes of a search read adjacent rows; the secondary indexes
-- start with (pid, value) for the lookups that drive a search, and
-- carry rid implicitly (a WITHOUT ROWID index ends with the primary key).
-- Composite parameters store each component in its kind's table with grp
-- (the composite value) and comp (the component's position); other rows
-- have grp = comp = 0. Absent values are '' rather than NULL.

CREATE TABLE resource_key (
	rid          INTEGER PRIMARY KEY,
	type         TEXT    NOT NULL,
	id           TEXT    NOT NULL,
	seq          INTEGER NOT NULL,
	last_updated INTEGER NOT NULL,
	deleted      INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX resource_key_id ON resource_key (type, id);
-- Searches without an indexed condition, and _sort=_lastUpdated.
CREATE INDEX resource_key_live ON resource_key (type, rid) WHERE deleted = 0;
CREATE INDEX resource_key_updated ON resource_key (type, last_updated, rid) WHERE deleted = 0;

INSERT INTO resource_key (type, id, seq, last_updated, deleted)
	SELECT c.type, c.id, c.seq, v.last_updated, c.deleted
	FROM resource_current c JOIN resource_version v ON v.seq = c.seq
	ORDER BY c.seq;

CREATE TABLE idx_string (
	rid   INTEGER NOT NULL,
	pid   INTEGER NOT NULL,
	n     INTEGER NOT NULL,
	text  TEXT    NOT NULL, -- search.Normalize'd
	exact TEXT    NOT NULL,
	grp   INTEGER NOT NULL DEFAULT 0,
	comp  INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (rid, pid, n)
) WITHOUT ROWID;
-- :exact seeks the normalised text too (text is Normalize(exact)): one
-- index less to write for every string.
CREATE INDEX idx_string_text ON idx_string (pid, text);

CREATE TABLE idx_token (
	rid         INTEGER NOT NULL,
	pid         INTEGER NOT NULL,
	n           INTEGER NOT NULL,
	system      TEXT    NOT NULL,
	code        TEXT    NOT NULL,
	display     TEXT    NOT NULL,
	type_system TEXT    NOT NULL,
	type_code   TEXT    NOT NULL,
	grp         INTEGER NOT NULL DEFAULT 0,
	comp        INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (rid, pid, n)
) WITHOUT ROWID;
CREATE INDEX idx_token_code ON idx_token (pid, code, system);

CREATE TABLE idx_reference (
	rid         INTEGER NOT NULL,
	pid         INTEGER NOT NULL,
	n           INTEGER NOT NULL,
	ref_type    TEXT    NOT NULL,
	ref_id      TEXT    NOT NULL,
	ref_version TEXT    NOT NULL,
	ref_url     TEXT    NOT NULL,
	system      TEXT    NOT NULL, -- Reference.identifier, for :identifier
	code        TEXT    NOT NULL,
	grp         INTEGER NOT NULL DEFAULT 0,
	comp        INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (rid, pid, n)
) WITHOUT ROWID;
-- Forward lookups (subject=Patient/1), chains, _has and _revinclude.
CREATE INDEX idx_reference_target ON idx_reference (pid, ref_type, ref_id);
CREATE INDEX idx_reference_url ON idx_reference (pid, ref_url) WHERE ref_url <> '';
CREATE INDEX idx_reference_identifier ON idx_reference (pid, code, system) WHERE code <> '';

CREATE TABLE idx_date (
	rid   INTEGER NOT NULL,
	pid   INTEGER NOT NULL,
	n     INTEGER NOT NULL,
	low   INTEGER NOT NULL, -- [low, high) in unix milliseconds
	high  INTEGER NOT NULL,
	grp   INTEGER NOT NULL DEFAULT 0,
	comp  INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (rid, pid, n)
) WITHOUT ROWID;
CREATE INDEX idx_date_low ON idx_date (pid, low, high);
CREATE INDEX idx_date_high ON idx_date (pid, high, low);

CREATE TABLE idx_number (
	rid   INTEGER NOT NULL,
	pid   INTEGER NOT NULL,
	n     INTEGER NOT NULL,
	low   REAL    NOT NULL,
	high  REAL    NOT NULL,
	grp   INTEGER NOT NULL DEFAULT 0,
	comp  INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (rid, pid, n)
) WITHOUT ROWID;
CREATE INDEX idx_number_low ON idx_number (pid, low, high);

CREATE TABLE idx_quantity (
	rid       INTEGER NOT NULL,
	pid       INTEGER NOT NULL,
	n         INTEGER NOT NULL,
	system    TEXT    NOT NULL,
	code      TEXT    NOT NULL,
	canonical INTEGER NOT NULL,
	low       REAL    NOT NULL,
	high      REAL    NOT NULL,
	grp       INTEGER NOT NULL DEFAULT 0,
	comp      INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (rid, pid, n)
) WITHOUT ROWID;
-- Only grp = 0: a composite's quantity (the value of code-value-quantity
-- and its kin, half of all quantity rows) is found from its code
-- component by (rid, param, grp), never by value.
CREATE INDEX idx_quantity_code ON idx_quantity (pid, code, low, high) WHERE grp = 0;

CREATE TABLE idx_uri (
	rid   INTEGER NOT NULL,
	pid   INTEGER NOT NULL,
	n     INTEGER NOT NULL,
	uri   TEXT    NOT NULL,
	grp   INTEGER NOT NULL DEFAULT 0,
	comp  INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (rid, pid, n)
) WITHOUT ROWID;
CREATE INDEX idx_uri_uri ON idx_uri (pid, uri);

-- The compartments each resource is in (Patient/123 for an Observation whose
-- subject is Patient/123, and for Patient/123 itself), from the
-- CompartmentDefinitions: compartment search and $everything are one index
-- range, and the rows carry the patient-compartment key a sharded database
-- distributes by.
CREATE TABLE idx_compartment (
	comp_type TEXT    NOT NULL,
	comp_id   TEXT    NOT NULL,
	rid       INTEGER NOT NULL,
	PRIMARY KEY (comp_type, comp_id, rid)
) WITHOUT ROWID;
CREATE INDEX idx_compartment_rid ON idx_compartment (rid);

-- _text (the narrative, tags stripped) and _content (every string of the
-- resource); rowid is the rid. Contentless: only the index is kept.
CREATE VIRTUAL TABLE idx_fts USING fts5 (
	narrative, content,
	content = '', contentless_delete = 1, tokenize = 'unicode61 remove_diacritics 2'
);

-- search_meta records the extractor version the index was built with
-- ("extractor_version") and the progress of a running reindex.
CREATE TABLE search_meta (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
) WITHOUT ROWID;
