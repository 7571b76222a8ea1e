package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/search"
)

// Consent rules (migration 0005): the rows of search.ConsentRules for each
// current Consent, written with the Consent's index rows and applied by
// consentCondition inside every query that carries Access.Consent.

const consentColumns = "rid, n, patient, path, permit, actor, type, label_system, label_code, code_system, code_code, purpose, data, period_low, period_high"

// writeConsentRules replaces the rules of the Consent of rid with those of
// res (none for a tombstone or an inactive Consent).
func (tx *txn) writeConsentRules(rid int64, res fhir.Resource, fresh bool) error {
	if !fresh {
		if _, err := tx.db.wconn.ExecContext(tx.ctx, "DELETE FROM consent_rule WHERE rid = ?", rid); err != nil {
			return err
		}
	}
	if res == nil {
		return nil
	}
	return insertConsentRules(tx.ctx, tx.db.wconn, rid, search.ConsentRules(res))
}

func insertConsentRules(ctx context.Context, conn *sql.Conn, rid int64, rules []search.ConsentRule) error {
	for n, r := range rules {
		_, err := conn.ExecContext(ctx, "INSERT INTO consent_rule ("+consentColumns+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
			rid, n, r.Patient, r.Path, b2i(r.Permit), r.Actor, r.Type, r.LabelSystem, r.LabelCode, r.CodeSystem, r.CodeCode, r.Purpose, r.Data, r.PeriodLow, r.PeriodHigh)
		if err != nil {
			return err
		}
	}
	return nil
}

// metaConsentRules marks in search_meta that the rules of the Consents
// written before migration 0005 were built.
const metaConsentRules = "consent_rules"

// buildConsentRules writes the rules of every current Consent once, for a
// database made before consent rules existed.
func (db *DB) buildConsentRules(ctx context.Context) error {
	var done string
	err := db.wconn.QueryRowContext(ctx, "SELECT value FROM search_meta WHERE key = ?", metaConsentRules).Scan(&done)
	switch {
	case err == nil:
		return nil
	case !errors.Is(err, sql.ErrNoRows):
		return err
	}
	return db.submit(ctx, func(tx *txn) error {
		rows, err := tx.db.wconn.QueryContext(tx.ctx, `SELECT k.rid, v.resource FROM resource_key k JOIN resource_version v ON v.seq = k.seq
			WHERE k.type = 'Consent' AND k.deleted = 0`)
		if err != nil {
			return tx.dbErr("consent rules", err)
		}
		type consent struct {
			rid  int64
			body []byte
		}
		var all []consent
		for rows.Next() {
			var c consent
			if err := rows.Scan(&c.rid, &c.body); err != nil {
				rows.Close()
				return tx.dbErr("consent rules", err)
			}
			all = append(all, c)
		}
		rows.Close()
		for _, c := range all {
			res, err := fhir.ParseResource(c.body)
			if err != nil {
				return fmt.Errorf("consent rules: Consent rid %d: %w", c.rid, err)
			}
			if err := tx.writeConsentRules(c.rid, res, false); err != nil {
				return tx.dbErr("consent rules", err)
			}
		}
		if _, err := tx.db.wconn.ExecContext(tx.ctx, sqlSetMeta, metaConsentRules, "1"); err != nil {
			return tx.dbErr("consent rules", err)
		}
		return nil
	})
}

// consentCondition is the condition that the resource_key row a is not
// hidden from the caller by its patient's Consents: no deny rule matches
// unless a permit rule below it does too. A database without rules skips
// the probes (the first term is evaluated once). Consent resources are
// never hidden by consent.
func (b *sqlBuilder) consentCondition(a string, c *search.ConsentCheck) string {
	d, p, cm := b.alias("cd"), b.alias("cp"), b.alias("cm")
	exempt := ""
	if len(c.Exempt) > 0 {
		ps := make([]string, len(c.Exempt))
		for i, e := range c.Exempt {
			ps[i] = b.arg(e)
		}
		exempt = " AND " + d + ".patient NOT IN (" + strings.Join(ps, ", ") + ")"
	}
	// Consents themselves are not hidden: whoever manages them must see them.
	return "(NOT EXISTS (SELECT 1 FROM consent_rule) OR " + a + ".type = 'Consent' OR NOT EXISTS (SELECT 1 FROM idx_compartment " + cm +
		" JOIN consent_rule " + d + " ON " + d + ".patient = " + cm + ".comp_id AND " + d + ".permit = 0" +
		" WHERE " + cm + ".rid = " + a + ".rid AND " + cm + ".comp_type = 'Patient'" + exempt +
		" AND " + b.ruleMatches(d, a, c) +
		" AND NOT EXISTS (SELECT 1 FROM consent_rule " + p + " WHERE " + p + ".rid = " + d + ".rid AND " + p + ".permit = 1" +
		" AND " + p + ".path LIKE " + d + ".path || '.%' AND " + b.ruleMatches(p, a, c) + ")))"
}

// ruleMatches is the condition that consent_rule row r applies to the
// caller's access to resource_key row a.
func (b *sqlBuilder) ruleMatches(r, a string, c *search.ConsentCheck) string {
	actors := []string{"''"}
	for _, x := range c.Actors {
		actors = append(actors, b.arg(x))
	}
	purposes := "''"
	if c.Purpose != "" {
		purposes += ", " + b.arg(c.Purpose)
	}
	now := b.arg(c.Now)
	t := b.alias("ct")
	// Labels and codes are looked for among all of the resource's coded
	// index rows: Consent.provision.code applies "if this code is found in
	// an instance", and a label is a meta.security coding.
	coded := func(sys, code string) string {
		return "(" + r + "." + code + " = '' OR EXISTS (SELECT 1 FROM idx_token " + t + " WHERE " + t + ".rid = " + a + ".rid AND " +
			t + ".code = " + r + "." + code + " AND " + t + ".system = " + r + "." + sys + "))"
	}
	return r + ".actor IN (" + strings.Join(actors, ", ") + ")" +
		" AND (" + r + ".type = '' OR " + r + ".type = " + a + ".type)" +
		" AND (" + r + ".data = '' OR " + r + ".data = " + a + ".type || '/' || " + a + ".id)" +
		" AND " + r + ".purpose IN (" + purposes + ")" +
		" AND " + r + ".period_low <= " + now + " AND " + now + " < " + r + ".period_high" +
		" AND " + coded("label_system", "label_code") + " AND " + coded("code_system", "code_code")
}
