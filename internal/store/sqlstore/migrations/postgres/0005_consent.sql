-- 0005: consent rules; the same logical schema as
-- migrations/sqlite/0005_consent.sql (read its comments). patient is also
-- the patient-compartment key a distributed database shards by.
CREATE TABLE consent_rule (
	rid          BIGINT   NOT NULL,
	n            INTEGER  NOT NULL,
	patient      TEXT     COLLATE "C" NOT NULL,
	path         TEXT     COLLATE "C" NOT NULL,
	permit       SMALLINT NOT NULL,
	actor        TEXT     COLLATE "C" NOT NULL,
	type         TEXT     COLLATE "C" NOT NULL,
	label_system TEXT     COLLATE "C" NOT NULL,
	label_code   TEXT     COLLATE "C" NOT NULL,
	code_system  TEXT     COLLATE "C" NOT NULL,
	code_code    TEXT     COLLATE "C" NOT NULL,
	purpose      TEXT     COLLATE "C" NOT NULL,
	data         TEXT     COLLATE "C" NOT NULL,
	period_low   BIGINT   NOT NULL,
	period_high  BIGINT   NOT NULL,
	PRIMARY KEY (rid, n)
);
CREATE INDEX consent_rule_patient ON consent_rule (patient, permit);
