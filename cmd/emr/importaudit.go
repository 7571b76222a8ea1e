package main

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/emr-project/emr/internal/audit"
	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/importer"
	"github.com/emr-project/emr/internal/store"
)

// What `emr import` records (DICOM 110107 "Import", action C, code
// "import", the operator cli:OS-user as agent):
//
//   - inside each write transaction, one AuditEvent per patient whose
//     record it created or updated (AuditEvent.patient, and the count of
//     resources per type), and one for the resources of no patient, so
//     that imported data and its audit record commit together, even when
//     the import stops half way. Unchanged resources are not written and
//     not recorded per patient. With Synthea's one bundle per patient a
//     batch of 500 resources touches one to three patients: a few events
//     per batch.
//   - at the end, one event for the run: the paths given as entities, the
//     files read and the counts; outcome 0, 4 when some file or resource
//     failed, 8 when the import itself failed.

// importAuditor builds the import's AuditEvents for actor.
type importAuditor struct {
	agent audit.Agent
}

// batch records the versions one write transaction created or updated.
func (a importAuditor) batch(tx store.Tx, written []*store.Version) error {
	type group struct {
		patient string
		types   map[string]int
	}
	var groups []*group
	byPatient := map[string]*group{}
	for _, v := range written {
		p := audit.PatientOf(v.Resource)
		g := byPatient[p]
		if g == nil {
			g = &group{patient: p, types: map[string]int{}}
			byPatient[p] = g
			groups = append(groups, g)
		}
		g.types[v.Type]++
	}
	for _, g := range groups {
		ev := audit.Event(audit.Entry{Category: audit.CategoryImport, Interaction: "import", Patient: g.patient,
			Agent: a.agent, Detail: "stored " + typeCounts(g.types), Recorded: tx.Now(), Observer: "emr"})
		if err := tx.AppendAudit(ev); err != nil {
			return err
		}
	}
	return nil
}

// run is the event of the whole import of paths.
func (a importAuditor) run(paths []string, sum *importer.Summary, err error) fhir.Resource {
	e := audit.Entry{Category: audit.CategoryImport, Interaction: "import", Agent: a.agent, Files: paths,
		Recorded: time.Now(), Observer: "emr"}
	if sum != nil {
		t := sum.Total()
		e.Detail = fmt.Sprintf("%d files: read %d, created %d, updated %d, unchanged %d, failed %d; %d problems",
			sum.Files, t.Read, t.Created, t.Updated, t.Unchanged, t.Failed, len(sum.Problems))
		if !sum.OK() {
			e.Outcome = audit.MinorFailure
		}
	}
	if err != nil {
		e.Outcome = audit.SeriousFailure
		e.Detail = strings.TrimPrefix(e.Detail+"; ", "; ") + "stopped: " + err.Error()
	}
	return audit.Event(e)
}

// recordRun writes the run's event; a failure to is reported, not hidden.
func (a importAuditor) recordRun(st store.Store, paths []string, sum *importer.Summary, err error) error {
	return st.AppendAudit(context.Background(), a.run(paths, sum, err))
}

// typeCounts is "Observation 120, Patient 1", by type.
func typeCounts(types map[string]int) string {
	names := make([]string, 0, len(types))
	for t := range types {
		names = append(names, t)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, t := range names {
		parts[i] = fmt.Sprintf("%s %d", t, types[t])
	}
	return strings.Join(parts, ", ")
}
