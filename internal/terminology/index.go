// Package terminology finds concepts in the code systems the server holds:
// the CodeSystem resources in the store (an administrator loads ICD-10,
// SNOMED CT or RxNorm content as CodeSystems with emr import, under
// their licences). The workspace's coded entry (problems, allergies)
// searches it as the clinician types.
package terminology

import (
	"context"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emr-project/emr/internal/fhir/spec"
	"github.com/emr-project/emr/internal/search"
	"github.com/emr-project/emr/internal/store"
)

// Well-known code systems of the clinical fields.
const (
	SNOMED = "http://snomed.info/sct"
	ICD10  = "http://hl7.org/fhir/sid/icd-10"
	// ICD10CM is ICD-10's US clinical modification.
	ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
	RxNorm  = "http://www.nlm.nih.gov/research/umls/rxnorm"
	LOINC   = "http://loinc.org"
)

// Concept is one code of a code system.
type Concept struct {
	System, Code, Display string
	// SystemName is the CodeSystem's title or name, for showing.
	SystemName string
}

// Index holds the concepts of every CodeSystem in the store, by the words
// of their displays (and designations). It reloads when the store's
// CodeSystems change, checking at most every Recheck.
type Index struct {
	Store       store.Store
	Definitions *spec.Definitions
	// Recheck is how often a search may look for changed CodeSystems
	// (default 10 s).
	Recheck time.Duration

	mu      sync.Mutex
	checked time.Time
	stamp   string
	data    *data
}

type data struct {
	concepts []Concept
	display  []string  // search.Normalize'd display of each concept
	match    []string  // display and designations, what a query's words must all start words of
	words    []wordRef // every word of every display, sorted
}

type wordRef struct {
	word    string
	concept int32
}

// Search returns at most limit concepts of systems (all when empty)
// whose display has a word starting with each word of q, or whose code
// is q: an exact display first, then displays starting with q, then the
// shortest.
func (ix *Index) Search(ctx context.Context, q string, systems []string, limit int) ([]Concept, error) {
	d, err := ix.current(ctx)
	if err != nil {
		return nil, err
	}
	norm := search.Normalize(q)
	words := strings.Fields(norm)
	if len(words) == 0 || d == nil {
		return nil, nil
	}
	// The candidates: the concepts with a word starting with the query's
	// longest word (the most selective), then every other word checked.
	longest := slices.MaxFunc(words, func(a, b string) int { return len(a) - len(b) })
	i := sort.Search(len(d.words), func(i int) bool { return d.words[i].word >= longest })
	seen := map[int32]bool{}
	var found []int32
	for ; i < len(d.words) && strings.HasPrefix(d.words[i].word, longest); i++ {
		c := d.words[i].concept
		if seen[c] || !wanted(d.concepts[c].System, systems) || !hasAll(d.match[c], words) {
			continue
		}
		seen[c] = true
		found = append(found, c)
	}
	for c, concept := range d.concepts {
		if strings.EqualFold(concept.Code, strings.TrimSpace(q)) && wanted(concept.System, systems) && !seen[int32(c)] {
			found = append(found, int32(c))
		}
	}
	rank := func(c int32) int {
		switch disp := d.display[c]; {
		case disp == norm || strings.EqualFold(d.concepts[c].Code, strings.TrimSpace(q)):
			return 0
		case strings.HasPrefix(disp, norm):
			return 1
		}
		return 2
	}
	slices.SortStableFunc(found, func(a, b int32) int {
		if ra, rb := rank(a), rank(b); ra != rb {
			return ra - rb
		}
		if la, lb := len(d.display[a]), len(d.display[b]); la != lb {
			return la - lb
		}
		return strings.Compare(d.display[a], d.display[b])
	})
	out := make([]Concept, 0, min(limit, len(found)))
	for _, c := range found[:min(limit, len(found))] {
		out = append(out, d.concepts[c])
	}
	return out, nil
}

// Exact returns the one concept of systems whose display is text (after
// normalisation), if exactly one is: a term typed in full is coded
// without being picked from the list.
func (ix *Index) Exact(ctx context.Context, text string, systems []string) (Concept, bool, error) {
	found, err := ix.Search(ctx, text, systems, 50)
	if err != nil {
		return Concept{}, false, err
	}
	norm := search.Normalize(text)
	var match []Concept
	for _, c := range found {
		if search.Normalize(c.Display) == norm {
			match = append(match, c)
		}
	}
	if len(match) != 1 {
		return Concept{}, false, nil
	}
	return match[0], true, nil
}

func wanted(system string, systems []string) bool {
	return len(systems) == 0 || slices.Contains(systems, system)
}

func hasAll(display string, words []string) bool {
	have := strings.Fields(display)
	for _, w := range words {
		if !slices.ContainsFunc(have, func(h string) bool { return strings.HasPrefix(h, w) }) {
			return false
		}
	}
	return true
}

// current returns the index, loading it again when the CodeSystems in
// the store have changed since.
func (ix *Index) current(ctx context.Context) (*data, error) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	recheck := ix.Recheck
	if recheck == 0 {
		recheck = 10 * time.Second
	}
	if ix.data != nil && time.Since(ix.checked) < recheck {
		return ix.data, nil
	}
	stamp, err := ix.storeStamp(ctx)
	if err != nil {
		return nil, err
	}
	ix.checked = time.Now()
	if ix.data != nil && stamp == ix.stamp {
		return ix.data, nil
	}
	d, err := ix.load(ctx)
	if err != nil {
		return nil, err
	}
	ix.data, ix.stamp = d, stamp
	return d, nil
}

// storeStamp identifies the store's CodeSystems: how many, and when the
// last changed.
func (ix *Index) storeStamp(ctx context.Context) (string, error) {
	q, err := search.Parse(ix.Definitions, "CodeSystem", url.Values{"_sort": {"-_lastUpdated"}, "_count": {"1"}, "_total": {"accurate"}}, search.ParseOptions{})
	if err != nil {
		return "", err
	}
	res, err := ix.Store.Search(ctx, q)
	if err != nil {
		return "", err
	}
	stamp := strconv.FormatInt(res.Total, 10)
	if len(res.Matches) > 0 {
		v := res.Matches[0]
		stamp += "/" + v.LastUpdated.Format(time.RFC3339Nano) + "/" + v.ID
	}
	return stamp, nil
}

func (ix *Index) load(ctx context.Context) (*data, error) {
	d := &data{}
	q, err := search.Parse(ix.Definitions, "CodeSystem", url.Values{"_count": {"100"}}, search.ParseOptions{})
	if err != nil {
		return nil, err
	}
	for {
		res, err := ix.Store.Search(ctx, q)
		if err != nil {
			return nil, err
		}
		for _, v := range res.Matches {
			cs := v.Resource
			system, _ := cs["url"].(string)
			if system == "" {
				continue
			}
			name, _ := cs["title"].(string)
			if name == "" {
				name, _ = cs["name"].(string)
			}
			d.add(system, name, cs["concept"])
		}
		if res.Next == "" {
			break
		}
		q.Cursor = res.Next
	}
	sort.Slice(d.words, func(i, j int) bool { return d.words[i].word < d.words[j].word })
	return d, nil
}

// add indexes concepts (a CodeSystem's concept list, nested ones too).
func (d *data) add(system, name string, concepts any) {
	list, _ := concepts.([]any)
	for _, x := range list {
		c, _ := x.(map[string]any)
		code, _ := c["code"].(string)
		display, _ := c["display"].(string)
		if code != "" {
			if display == "" {
				display = code
			}
			n := int32(len(d.concepts))
			d.concepts = append(d.concepts, Concept{System: system, Code: code, Display: display, SystemName: name})
			norm := search.Normalize(display)
			d.display = append(d.display, norm)
			match := norm
			// Designations (synonyms) find the concept too.
			des, _ := c["designation"].([]any)
			for _, y := range des {
				dm, _ := y.(map[string]any)
				if v, _ := dm["value"].(string); v != "" {
					match += " " + search.Normalize(v)
				}
			}
			d.match = append(d.match, match)
			words := strings.Fields(match)
			for _, w := range words {
				d.words = append(d.words, wordRef{w, n})
			}
		}
		d.add(system, name, c["concept"])
	}
}
