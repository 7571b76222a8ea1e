-- 0005: the rules of patients' Consents (search.ConsentRules), kept beside
-- the search index: a write of a Consent replaces its rows (by the
-- Consent's rid), and every query hides what a deny rule of the patient's
-- Consents matches unless a deeper permit rule below it (path) does too.
-- Empty texts match anything; periods are [low, high) unix milliseconds.
CREATE TABLE consent_rule (
	rid          INTEGER NOT NULL, -- the Consent's resource_key rid
	n            INTEGER NOT NULL,
	patient      TEXT    NOT NULL,
	path         TEXT    NOT NULL,
	permit       INTEGER NOT NULL,
	actor        TEXT    NOT NULL,
	type         TEXT    NOT NULL,
	label_system TEXT    NOT NULL,
	label_code   TEXT    NOT NULL,
	code_system  TEXT    NOT NULL,
	code_code    TEXT    NOT NULL,
	purpose      TEXT    NOT NULL,
	data         TEXT    NOT NULL,
	period_low   INTEGER NOT NULL,
	period_high  INTEGER NOT NULL,
	PRIMARY KEY (rid, n)
) WITHOUT ROWID;
CREATE INDEX consent_rule_patient ON consent_rule (patient, permit);

-- Consents written before this migration get their rows at the next open
-- (search_meta key consent_rules).
