package fhirapi

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/mpi"
)

// DuplicatePolicy is what creating a Patient does about the matcher's
// candidates: every create (POST, and a POST entry of a batch or
// transaction) asks the matcher first (docs/mpi.md, "At registration").
type DuplicatePolicy string

const (
	// DuplicatesWarn creates the patient and tells the client of the
	// candidates: an OperationOutcome body with a warning per candidate
	// (unless the client asked Prefer: return=representation or minimal),
	// and always the DuplicatesHeader.
	DuplicatesWarn DuplicatePolicy = "warn"
	// DuplicatesRefuse answers 409 when a certain match exists, unless the
	// request carries ReviewedHeader: true (the client has shown the
	// candidates to its user, who decided this is another person). Lesser
	// candidates are warned of as under DuplicatesWarn.
	DuplicatesRefuse DuplicatePolicy = "refuse"
)

// ParseDuplicatePolicy reads a --duplicates flag value.
func ParseDuplicatePolicy(s string) (DuplicatePolicy, error) {
	switch p := DuplicatePolicy(s); p {
	case DuplicatesWarn, DuplicatesRefuse:
		return p, nil
	case "":
		return DuplicatesWarn, nil
	}
	return "", fmt.Errorf("duplicate policy %q: want warn or refuse", s)
}

const (
	// DuplicatesHeader lists, on a created Patient's response, the
	// candidates found: "Patient/1; grade=probable; score=0.9731, …".
	DuplicatesHeader = "X-Duplicate-Candidates"
	// ReviewedHeader, set to "true" on a create, says the client has
	// reviewed the candidates: DuplicatesRefuse then creates anyway.
	ReviewedHeader = "X-Duplicates-Reviewed"
)

// duplicateCheck is what the matcher found for a Patient about to be
// created.
type duplicateCheck struct {
	matches []mpi.Match
}

// checkDuplicates asks the matcher about res before it is created, reading
// candidates as the caller (only patients it may see count). at locates res
// for error expressions ("Patient" or "Bundle.entry[2].resource"). Under
// DuplicatesRefuse a certain match refuses the create with 409 unless
// header says the candidates were reviewed.
func (s *Server) checkDuplicates(ctx context.Context, res fhir.Resource, header http.Header, at string) (*duplicateCheck, error) {
	if s.opt.Matcher == nil || res.Type() != "Patient" {
		return nil, nil
	}
	matches, err := s.opt.Matcher.Match(ctx, s.opt.Gate.Guard(ctx, s.opt.Store), res, mpi.Query{Count: 10})
	if err != nil {
		return nil, err
	}
	check := &duplicateCheck{matches: matches}
	if s.opt.Duplicates != DuplicatesRefuse || strings.EqualFold(header.Get(ReviewedHeader), "true") {
		return check, nil
	}
	var certain []fhir.Issue
	for _, m := range matches {
		if m.Grade == mpi.Certain {
			certain = append(certain, fhir.Issue{Severity: "error", Code: "duplicate", Expression: []string{at},
				Diagnostics: fmt.Sprintf("this patient is already registered as Patient/%s (certain match, score %.4f%s); use that record, or resend with %s: true once a person has checked that this is someone else",
					m.Version.ID, mpi.Score(m.Score), evidence(m.Result), ReviewedHeader)})
		}
	}
	if len(certain) > 0 {
		return nil, &fhir.Error{Kind: fhir.KindConflict, Issues: certain}
	}
	return check, nil
}

// issues describes the candidates as OperationOutcome issues: a warning
// for a certain or probable match, information for a possible one.
func (c *duplicateCheck) issues(at string) []fhir.Issue {
	if c == nil {
		return nil
	}
	out := make([]fhir.Issue, 0, len(c.matches))
	for _, m := range c.matches {
		severity := "warning"
		if m.Grade < mpi.Probable {
			severity = "information"
		}
		out = append(out, fhir.Issue{Severity: severity, Code: "duplicate", Expression: []string{at},
			Diagnostics: fmt.Sprintf("possible duplicate of Patient/%s: %s match, score %.4f%s", m.Version.ID, m.Grade, mpi.Score(m.Score), evidence(m.Result))})
	}
	return out
}

// report adds the candidates to the response of the create that stored
// resp.version: DuplicatesHeader, the outcome for a Bundle entry, and,
// unless the client asked for the resource or nothing, the body (the
// candidates are what a registrar needs to see most).
func (c *duplicateCheck) report(req *request, resp *response, at string) {
	if c == nil || len(c.matches) == 0 {
		return
	}
	v := resp.version
	resp.header = http.Header{DuplicatesHeader: {c.header()}}
	resp.outcome = fhir.OperationOutcome(append([]fhir.Issue{{Severity: "information", Code: "informational",
		Diagnostics: v.Type + "/" + v.ID + " version " + itoa(v.VersionID) + " stored"}}, c.issues(at)...)...)
	if p := preferReturn(req.header); p == "" || p == "OperationOutcome" {
		resp.resource = resp.outcome
	}
}

// header renders the candidates for DuplicatesHeader, "" when none.
func (c *duplicateCheck) header() string {
	if c == nil {
		return ""
	}
	parts := make([]string, len(c.matches))
	for i, m := range c.matches {
		parts[i] = "Patient/" + m.Version.ID + "; grade=" + m.Grade.String() + "; score=" + strconv.FormatFloat(mpi.Score(m.Score), 'f', -1, 64)
	}
	return strings.Join(parts, ", ")
}

// evidence names the fields that agreed and disagreed most, for a person
// reading the warning: ", agree: birth date, family name; disagree: phone".
func evidence(r mpi.Result) string {
	var agree, disagree []string
	for _, f := range r.Fields {
		switch {
		case f.Weight >= 2:
			agree = append(agree, f.Field.String())
		case f.Weight <= -2:
			disagree = append(disagree, f.Field.String())
		}
	}
	var b strings.Builder
	if len(agree) > 0 {
		b.WriteString("; agree: " + strings.Join(agree, ", "))
	}
	if len(disagree) > 0 {
		b.WriteString("; disagree: " + strings.Join(disagree, ", "))
	}
	if r.Rule != "" {
		b.WriteString("; capped by rule " + r.Rule)
	}
	return b.String()
}
