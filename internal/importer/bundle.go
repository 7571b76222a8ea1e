package importer

import (
	"crypto/sha256"
	"fmt"
	"strings"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/store"
)

// bundleEntry is one entry of a Bundle on its way to the store.
type bundleEntry struct {
	index int
	res   fhir.Resource
	kept  int // elements kept as cross-version extensions
	err   error
}

// processBundle unpacks a transaction, batch, collection or searchset
// Bundle. Every entry keeps or gets a stable id, references to fullUrls
// become Type/id, and each resource is converted and validated. A
// transaction becomes one atomic unit, and fails as a whole when any entry
// fails; the entries of the other kinds stand alone.
func processBundle(opts Options, j *job, bundle fhir.Resource, kind string, r *result) {
	raw, _ := bundle["entry"].([]any)
	entries := make([]*bundleEntry, len(raw))
	targets := map[string]string{} // fullUrl → Type/id
	for i, e := range raw {
		be := &bundleEntry{index: i}
		entries[i] = be
		obj, _ := e.(map[string]any)
		res, _ := obj["resource"].(map[string]any)
		if res == nil {
			be.err = fmt.Errorf("the entry has no resource (only entries with a resource are imported)")
			continue
		}
		be.res = fhir.Resource(res)
		if be.res.Type() == "" {
			be.err = fmt.Errorf("the entry's resource has no resourceType")
			continue
		}
		fullURL, _ := obj["fullUrl"].(string)
		if be.res.ID() == "" {
			be.res.SetID(entryID(be.res, obj, fullURL))
		}
		if fullURL != "" {
			targets[fullURL] = be.res.Type() + "/" + be.res.ID()
		}
	}

	version := j.version
	if version == VersionAuto {
		version = VersionR5
		for _, be := range entries {
			if be.res != nil && r4Sign(be.res) != "" {
				version = VersionR4
				break
			}
		}
	}
	if version == VersionR4 && opts.ConvertR4 == nil {
		r.problems = append(r.problems, Problem{File: j.file, Message: errNoConverter.Error()})
		for _, be := range entries {
			r.fail(typeOf(be), nil)
		}
		return
	}

	failed := 0
	for _, be := range entries {
		if be.err == nil {
			be.err = rewriteReferences(map[string]any(be.res), targets)
		}
		if be.err == nil {
			be.kept, be.err = prepare(opts, version, &be.res)
		}
		if be.err != nil {
			failed++
		}
	}
	where := func(be *bundleEntry) string { return fmt.Sprintf("entry %d", be.index) }
	if kind == "transaction" && failed > 0 {
		for _, be := range entries {
			if be.err != nil {
				r.fail(typeOf(be), &Problem{File: j.file, Where: where(be), Message: be.err.Error()})
			} else {
				r.fail(typeOf(be), nil)
			}
		}
		r.problems = append(r.problems, Problem{File: j.file,
			Message: fmt.Sprintf("transaction Bundle not imported: %d of its %d entries failed, so none was written", failed, len(entries))})
		return
	}
	u := &unit{file: j.file, atomic: kind == "transaction"}
	if u.atomic {
		u.where = "transaction Bundle"
	}
	for _, be := range entries {
		if be.err != nil {
			r.fail(typeOf(be), &Problem{File: j.file, Where: where(be), Message: be.err.Error()})
			continue
		}
		u.items = append(u.items, item{res: be.res, where: where(be), kept: be.kept})
	}
	if len(u.items) > 0 {
		r.units = append(r.units, u)
	}
}

func typeOf(be *bundleEntry) string {
	if be.res == nil {
		return ""
	}
	return be.res.Type()
}

// entryID chooses a stable id for an entry's resource that has none: the
// id of a PUT's request.url, the uuid of a urn:uuid fullUrl, the last
// segment of a RESTful fullUrl, or else a hash of the content, so that
// importing the same Bundle again names the same resources.
func entryID(res fhir.Resource, entry map[string]any, fullURL string) string {
	if req, ok := entry["request"].(map[string]any); ok {
		if url, _ := req["url"].(string); url != "" {
			if typ, id, ok := strings.Cut(strings.SplitN(url, "?", 2)[0], "/"); ok && typ == res.Type() && fhir.ValidID(id) {
				return id
			}
		}
	}
	switch {
	case strings.HasPrefix(fullURL, "urn:uuid:"):
		if id := strings.TrimPrefix(fullURL, "urn:uuid:"); fhir.ValidID(id) {
			return strings.ToLower(id)
		}
	case strings.Contains(fullURL, "/"+res.Type()+"/"):
		id := fullURL[strings.LastIndex(fullURL, "/")+1:]
		if fhir.ValidID(id) {
			return id
		}
	}
	if fullURL != "" {
		return hashID([]byte(fullURL))
	}
	return contentID(res)
}

// contentID names a resource without an id after its content.
func contentID(res fhir.Resource) string { return hashID(res.JSON()) }

func hashID(data []byte) string {
	sum := sha256.Sum256(data)
	var b [16]byte
	copy(b[:], sum[:16])
	return store.FormatUUID(b)
}

// rewriteReferences replaces every Reference.reference naming a fullUrl of
// the Bundle with Type/id. A urn:uuid: or urn:oid: reference to no entry
// cannot mean anything in the store, so it is an error.
func rewriteReferences(v any, targets map[string]string) error {
	switch v := v.(type) {
	case map[string]any:
		for k, child := range v {
			if s, ok := child.(string); ok && k == "reference" {
				if t, ok := targets[s]; ok {
					v[k] = t
				} else if strings.HasPrefix(s, "urn:uuid:") || strings.HasPrefix(s, "urn:oid:") {
					return fmt.Errorf("reference %q names no entry of the Bundle", s)
				}
				continue
			}
			if err := rewriteReferences(child, targets); err != nil {
				return err
			}
		}
	case []any:
		for _, child := range v {
			if err := rewriteReferences(child, targets); err != nil {
				return err
			}
		}
	}
	return nil
}
