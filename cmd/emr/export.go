package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/emr-project/emr/internal/audit"
	"github.com/emr-project/emr/internal/deid"
	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/fhir/spec"
	"github.com/emr-project/emr/internal/search"
	"github.com/emr-project/emr/internal/store"
)

// exportPurpose is the purpose of use recorded for a de-identified export:
// v3 ActReason HRESCH, healthcare research.
const exportPurpose = "HRESCH"

// runExport writes a de-identified copy of patients' records as NDJSON,
// one file per resource type and a manifest, in the layout of a FHIR Bulk
// Data export.
func runExport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("export", stderr)
	var cfg config
	fs.StringVar(&cfg.dataDir, "data", "./emr-data", "data directory holding the SQLite database")
	dbFlags(fs, &cfg, false)
	auditFlags(fs, &cfg)
	deidentify := fs.Bool("deidentify", false, "de-identify by HIPAA Safe Harbor with keyed pseudonyms (required: the only export there is; docs/deidentify.md)")
	out := fs.String("out", "./emr-export", "directory to write TYPE.ndjson files and manifest.json into (created; files there of the same names are replaced)")
	keyFile := fs.String("key", "", "file of the pseudonymisation key, created (mode 0600) when missing; the same key gives the same pseudonyms and date shifts in every export (required)")
	patients := fs.String("patient", "", "comma-separated ids of the patients to export (default: every patient)")
	types := fs.String("type", "", "comma-separated resource types to export (default: every type of the Patient compartment, and what they refer to)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if !*deidentify {
		return usageError{errors.New("--deidentify is required: emr exports de-identified data only")}
	}
	if *keyFile == "" {
		return usageError{errors.New("--key FILE is required (created when missing): keep it secret, and keep it to export again with the same pseudonyms")}
	}
	defs := spec.R5()
	opt := exportOptions{dir: *out, patients: splitList(*patients), types: splitList(*types)}
	for _, t := range opt.types {
		if !slices.Contains(deid.CompartmentTypes(defs), t) {
			return usageError{fmt.Errorf("--type: %s is not a type of the Patient compartment", t)}
		}
	}
	key, created, err := deid.LoadOrCreateKey(*keyFile)
	if err != nil {
		return err
	}
	if created {
		fmt.Fprintf(stderr, "created the pseudonymisation key %s (key id %s): keep it secret and keep it\n", *keyFile, deid.KeyID(key))
	}
	d, err := deid.New(defs, key)
	if err != nil {
		return err
	}
	st, _, err := openStore(ctx, cfg, defs)
	if err != nil {
		return err
	}
	defer st.Close()
	opt.request = "emr export " + strings.Join(args, " ")
	m, err := exportDeidentified(ctx, st, defs, d, opt)
	if err != nil {
		return err
	}
	total := 0
	for _, o := range m.Output {
		fmt.Fprintf(stdout, "%-28s %7d\n", o.Type, o.Count)
		total += o.Count
	}
	fmt.Fprintf(stdout, "%d resources of %d patients written to %s (key id %s)\n", total, m.Extension.Patients, opt.dir, m.Extension.KeyID)
	return nil
}

type exportOptions struct {
	dir             string
	patients, types []string
	request         string // the command line, for the manifest
}

// manifest is the Bulk Data style manifest.json of an export.
type manifest struct {
	TransactionTime     string           `json:"transactionTime"`
	Request             string           `json:"request"`
	RequiresAccessToken bool             `json:"requiresAccessToken"`
	Output              []manifestOutput `json:"output"`
	Error               []manifestOutput `json:"error"`
	Extension           manifestDeid     `json:"extension"`
}

type manifestOutput struct {
	Type  string `json:"type"`
	URL   string `json:"url"`
	Count int    `json:"count"`
}

type manifestDeid struct {
	Method   string `json:"deidentification"`
	KeyID    string `json:"keyId"`
	Patients int    `json:"patients"`
}

// exportDeidentified writes the de-identified records of opt.patients
// (every patient when empty) into opt.dir and records one AuditEvent.
func exportDeidentified(ctx context.Context, st store.Store, defs *spec.Definitions, d *deid.Deidentifier, opt exportOptions) (*manifest, error) {
	started := time.Now()
	patients := opt.patients
	if len(patients) == 0 {
		var err error
		if patients, err = allPatients(ctx, st, defs); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(opt.dir, 0o700); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	files := map[string]*exportFile{}
	defer func() {
		for _, f := range files {
			f.file.Close()
		}
	}()
	seen := map[string]bool{}
	for _, patient := range patients {
		record, err := deid.PatientRecord(ctx, defs, st.Search, patient, opt.types)
		if err != nil {
			return nil, err
		}
		if len(record) == 0 {
			if _, err := st.Read(ctx, "Patient", patient); err != nil {
				return nil, fmt.Errorf("export: Patient/%s: %w", patient, err)
			}
		}
		for _, v := range record {
			key := v.Type + "/" + v.ID
			if seen[key] || (len(opt.types) > 0 && !slices.Contains(opt.types, v.Type)) {
				continue
			}
			seen[key] = true
			res, err := d.Resource(v.Resource, d.ShiftKey(v.Resource, patient))
			if err != nil {
				return nil, err
			}
			f := files[v.Type]
			if f == nil {
				if f, err = createExportFile(opt.dir, v.Type); err != nil {
					return nil, err
				}
				files[v.Type] = f
			}
			f.w.Write(res.JSON())
			f.w.WriteByte('\n')
			f.count++
		}
	}
	m := &manifest{
		TransactionTime: fhir.FormatInstant(started),
		Request:         opt.request,
		Output:          []manifestOutput{},
		Error:           []manifestOutput{},
		Extension: manifestDeid{
			Method:   "HIPAA Safe Harbor (45 CFR 164.514(b)(2)); HMAC-SHA256 pseudonyms and per-patient date shifts under the key; see docs/deidentify.md",
			KeyID:    d.KeyID(),
			Patients: len(patients),
		},
	}
	var counts []string
	total := 0
	for typ, f := range files {
		if err := f.w.Flush(); err != nil {
			return nil, fmt.Errorf("export: write %s: %w", f.file.Name(), err)
		}
		if err := f.file.Close(); err != nil {
			return nil, fmt.Errorf("export: write %s: %w", f.file.Name(), err)
		}
		m.Output = append(m.Output, manifestOutput{Type: typ, URL: typ + ".ndjson", Count: f.count})
		counts = append(counts, fmt.Sprintf("%s %d", typ, f.count))
		total += f.count
	}
	sort.Slice(m.Output, func(i, j int) bool { return m.Output[i].Type < m.Output[j].Type })
	sort.Strings(counts)
	data, _ := json.MarshalIndent(m, "", "  ")
	if err := os.WriteFile(filepath.Join(opt.dir, "manifest.json"), append(data, '\n'), 0o600); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	// One record for the whole export, naming every patient in it, so
	// that "who saw my record" finds it.
	ev := audit.Event(audit.Entry{
		Interaction: "operation",
		Query:       "export?_deidentify=true&patient=" + strings.Join(opt.patients, ",") + "&_type=" + strings.Join(opt.types, ","),
		Agent:       audit.Agent{User: "cli:" + osUser()},
		Purpose:     exportPurpose,
		Outcome:     audit.Success,
		Detail:      fmt.Sprintf("de-identified export of %d resources of %d patients to %s, key id %s: %s", total, len(patients), opt.dir, d.KeyID(), strings.Join(counts, ", ")),
		Recorded:    time.Now(),
		Observer:    "emr export",
	})
	entities, _ := ev["entity"].([]any)
	for _, p := range patients {
		entities = append(entities, map[string]any{"what": map[string]any{"reference": "Patient/" + p}})
	}
	ev["entity"] = entities
	if err := st.AppendAudit(context.WithoutCancel(ctx), ev); err != nil {
		return nil, fmt.Errorf("export: the files are written but the audit record failed: %w", err)
	}
	return m, nil
}

type exportFile struct {
	file  *os.File
	w     *bufio.Writer
	count int
}

func createExportFile(dir, typ string) (*exportFile, error) {
	f, err := os.OpenFile(filepath.Join(dir, typ+".ndjson"), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	return &exportFile{file: f, w: bufio.NewWriterSize(f, 1<<16)}, nil
}

// allPatients lists the id of every patient, paging through the store.
func allPatients(ctx context.Context, st store.Store, defs *spec.Definitions) ([]string, error) {
	var ids []string
	for cursor := ""; ; {
		q, err := search.Parse(defs, "Patient", map[string][]string{"_count": {fmt.Sprint(store.MaxPageSize)}, "_elements": {"id"}}, search.ParseOptions{})
		if err != nil {
			return nil, err
		}
		q.Cursor = cursor
		res, err := st.Search(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("export: list patients: %w", err)
		}
		for _, v := range res.Matches {
			ids = append(ids, v.ID)
		}
		if res.Next == "" {
			return ids, nil
		}
		cursor = res.Next
	}
}

func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}
