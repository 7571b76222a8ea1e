package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/emr-project/emr/internal/access"
	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/mpi"
	"github.com/emr-project/emr/internal/search"
	"github.com/emr-project/emr/internal/store"
)

func (ws *Workspace) registerFinder(page pageFunc) {
	page("GET /{$}", ws.home)
}

// finderLimit is how many patients the finder lists; past it the user is
// asked to type more.
const finderLimit = 25

// finderRow is a patient as the finder lists it: enough to tell people
// apart.
type finderRow struct {
	ID, Name, Preferred, Sex, Born, Age, MRN, Address, Phone string
	// LastVisit is the date of the latest Encounter, "" when none is
	// recorded (or the user may not see encounters: LastVisitKnown false).
	LastVisit      string
	LastVisitKnown bool
}

type finderData struct {
	Query string
	Rows  []finderRow
	More  bool
	// Searched is false before any query (the page shows recent patients).
	Searched bool
	// Recent are the patients the user opened last, newest first.
	Recent []finderRow
	// Table is what the results' table shows: Rows or Recent.
	Table *finderTable
}

// finderTable is the table of patients, for the template shared by the
// results and the recent patients.
type finderTable struct {
	View       *view
	Rows       []finderRow
	LabelledBy string // the id of the heading that names the table
}

// home is the patient finder: GET /?q=…, the whole page, or only the
// results list when the finder's script asks (partial=1).
func (ws *Workspace) home(w http.ResponseWriter, r *http.Request) error {
	v := ws.view(r, "finder.title")
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	data := &finderData{Query: q}
	v.Data = data
	if q != "" {
		data.Searched = true
		rows, more, err := ws.find(r, v.Locale, q)
		if err != nil {
			return err
		}
		data.Rows, data.More = rows, more
	} else if err := ws.recentRows(r, v.Locale, data); err != nil {
		return err
	}
	if data.Searched {
		data.Table = &finderTable{View: v, Rows: data.Rows, LabelledBy: "results-count"}
	} else {
		data.Table = &finderTable{View: v, Rows: data.Recent, LabelledBy: "recent-title"}
	}
	name := "home"
	if r.URL.Query().Get("partial") == "1" {
		name = "finder-results"
	}
	ws.render(w, http.StatusOK, name, v)
	return nil
}

// find turns what was typed into searches: a date in a usual written form
// (a day, a month or a year) searches the birth date; a phone number in
// any format, an email address, or a word with a digit searches the
// identifiers and, through the matcher's key index, the phones and emails;
// every other word must be part of a name (accent- and case-insensitive,
// any script: the string index is folded). The searches run as one
// audited read, and each row carries the patient's last visit.
func (ws *Workspace) find(r *http.Request, l *Locale, q string) ([]finderRow, bool, error) {
	ctx := r.Context()
	params := url.Values{"_count": {strconv.Itoa(finderLimit + 1)}, "_sort": {"family,given"}, "_total": {"none"}}
	words := strings.Fields(q)
	var numbers []string
	switch {
	case parseWrittenDate(q) != "":
		// "9 March 1984" is one date, not a number and two words.
		params.Add("birthdate", parseWrittenDate(q))
		words = nil
	case phoneLike(q):
		// "+44 (0)20 7946 0958" is one number, not five words.
		numbers, words = []string{q}, nil
	}
	for _, word := range words {
		if d := parseWrittenDate(word); d != "" {
			params.Add("birthdate", d)
			continue
		}
		if onlyDigits(word) != "" || strings.Contains(word, "@") {
			numbers = append(numbers, word)
			continue
		}
		params.Add("name:contains", word)
	}
	var rows []finderRow
	seen := map[string]bool{}
	more := false
	now := ws.now()
	err := ws.read(r, access.Request{Interaction: "search-type", Type: "Patient", Query: "ui:/?q=" + q}, func(st store.Store) ([]access.Touched, error) {
		queries := []url.Values{params}
		if len(numbers) > 0 {
			// A number is an identifier, a phone or an email: one search
			// each, merged.
			queries = nil
			for _, n := range numbers {
				queries = append(queries, with(params, "identifier", n))
				ids, err := ws.contactKeyIDs(ctx, n)
				if err != nil {
					return nil, err
				}
				if len(ids) > 0 {
					queries = append(queries, with(params, "_id", strings.Join(ids, ",")))
				}
			}
		}
		var touched []access.Touched
		for _, qv := range queries {
			sq, err := search.Parse(ws.Definitions, "Patient", qv, search.ParseOptions{})
			if err != nil {
				return nil, err
			}
			res, err := st.Search(ctx, sq)
			if err != nil {
				return nil, err
			}
			for _, v := range res.Matches {
				if seen[v.ID] {
					continue
				}
				if len(rows) == finderLimit {
					more = true
					break
				}
				seen[v.ID] = true
				rows = append(rows, finderRowOf(l, ws.Gate.Mask(ctx, v.Resource), v.ID, now))
				touched = append(touched, access.TouchedVersion(v))
			}
		}
		visits, err := ws.lastVisits(ctx, st, l, rows)
		return append(touched, visits...), err
	})
	return rows, more, err
}

// with is params with key set to value (params itself unchanged).
func with(params url.Values, key, value string) url.Values {
	out := url.Values{}
	for k, v := range params {
		out[k] = v
	}
	out.Set(key, value)
	return out
}

// phoneLike reports whether the whole query is one phone number however
// it is written: digits with spaces, brackets, dots, dashes or a plus, at
// least six digits, and not a date.
func phoneLike(q string) bool {
	return phoneChars.MatchString(q) && len(onlyDigits(q)) >= 6 && parseWrittenDate(q) == ""
}

var phoneChars = regexp.MustCompile(`^\+?[0-9 ().\-/]+$`)

// contactKeyIDs finds the patients with the phone or email n through the
// matcher's index of blocking keys: the Patient phone token holds the
// number as it was written (555-201-3344, (555) 201 3344, +1 555…), but
// the keys hold its last nine digits, so any format finds it with one
// index probe, never a scan. The ids still have to be read through the
// gate: the index says nothing about who may see them.
func (ws *Workspace) contactKeyIDs(ctx context.Context, n string) ([]string, error) {
	keys := contactKeys(n)
	var km store.KeyMatcher
	if ws.Matcher != nil && ws.Matcher.Keys != nil {
		km = ws.Matcher.Keys
	} else if k, ok := ws.Store.(store.KeyMatcher); ok {
		km = k
	}
	if len(keys) == 0 || km == nil {
		return nil, nil
	}
	found, err := km.MatchKeys(ctx, "Patient", mpi.KeyParam, keys, finderLimit+1, finderLimit+1)
	if err != nil {
		return nil, fmt.Errorf("finder: phone keys: %w", err)
	}
	ids := make([]string, len(found))
	for i, f := range found {
		ids[i] = f.ID
	}
	return ids, nil
}

// contactKeys are the blocking keys (ph:…, em:…) of n as a phone or an
// email, normalised exactly as the matcher normalises a stored patient's.
func contactKeys(n string) []string {
	system := "phone"
	if strings.Contains(n, "@") {
		system = "email"
	}
	p := mpi.FromPatient(fhir.Resource{"resourceType": "Patient",
		"telecom": []any{map[string]any{"system": system, "value": n}}})
	var keys []string
	for _, k := range p.BlockingKeys() {
		if strings.HasPrefix(k, "ph:") || strings.HasPrefix(k, "em:") {
			keys = append(keys, k)
		}
	}
	return keys
}

func finderRowOf(l *Locale, p fhir.Resource, id string, now time.Time) finderRow {
	row := finderRow{ID: id, Name: DisplayName(p), Preferred: preferredName(p), Sex: l.sex(str(p, "gender")),
		Born: l.Date(str(p, "birthDate")), Age: l.Age(str(p, "birthDate"), now), MRN: mrnOf(p)}
	if addrs, _ := p["address"].([]any); len(addrs) > 0 {
		a, _ := addrs[0].(map[string]any)
		parts := append(strs(a["line"]), str(a, "city"), str(a, "postalCode"))
		row.Address = strings.Join(nonEmpty(parts), ", ")
	}
	if tel, _ := p["telecom"].([]any); len(tel) > 0 {
		for _, x := range tel {
			t, _ := x.(map[string]any)
			if t["system"] == "phone" {
				row.Phone = str(t, "value")
				break
			}
		}
	}
	return row
}

func nonEmpty(ss []string) []string {
	out := ss[:0]
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

func onlyDigits(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

var (
	isoDate    = regexp.MustCompile(`^(\d{4})-(\d{1,2})-(\d{1,2})$`)
	slashDate  = regexp.MustCompile(`^(\d{1,2})[/.](\d{1,2})[/.](\d{4})$`)
	monDate    = regexp.MustCompile(`^(\d{1,2})[- ]?([A-Za-z]{3,9})[- ]?(\d{4})$`)
	yearOnly   = regexp.MustCompile(`^(\d{4})$`)
	isoMonth   = regexp.MustCompile(`^(\d{4})-(\d{1,2})$`)
	slashMonth = regexp.MustCompile(`^(\d{1,2})[/.](\d{4})$`)
	nameMonth  = regexp.MustCompile(`^([A-Za-z]{3,9})[- ]?(\d{4})$`)
)

var monthNames = []string{"january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december"}

// monthOf is the number of an English month name or its abbreviation of
// three letters or more ("mar", "March"), 0 for anything else.
func monthOf(word string) int {
	word = strings.ToLower(word)
	for i, name := range monthNames {
		if len(word) >= 3 && strings.HasPrefix(name, word) {
			return i + 1
		}
	}
	return 0
}

// parseWrittenDate reads a birth date as people write it and returns it as
// a FHIR date of the precision written: 1984-03-09, 09-Mar-1984,
// 9 March 1984, 9/3/1984 and 9.3.1984 (day first, as written in most of
// the world) give a day; Mar-1984, March 1984, 3/1984 and 1984-03 a month;
// 1984 a year. It returns "" when s is not a date from 1850 to 9999.
func parseWrittenDate(s string) string {
	s = strings.TrimSpace(s)
	var y, m, d int
	switch {
	case isoDate.MatchString(s):
		g := isoDate.FindStringSubmatch(s)
		y, m, d = atoi(g[1]), atoi(g[2]), atoi(g[3])
	case slashDate.MatchString(s):
		g := slashDate.FindStringSubmatch(s)
		d, m, y = atoi(g[1]), atoi(g[2]), atoi(g[3])
	case monDate.MatchString(s):
		g := monDate.FindStringSubmatch(s)
		d, m, y = atoi(g[1]), monthOf(g[2]), atoi(g[3])
	case yearOnly.MatchString(s):
		if y = atoi(s); y < 1850 {
			return ""
		}
		return fmt.Sprintf("%04d", y)
	case isoMonth.MatchString(s), slashMonth.MatchString(s), nameMonth.MatchString(s):
		if g := isoMonth.FindStringSubmatch(s); g != nil {
			y, m = atoi(g[1]), atoi(g[2])
		} else if g := slashMonth.FindStringSubmatch(s); g != nil {
			m, y = atoi(g[1]), atoi(g[2])
		} else {
			g := nameMonth.FindStringSubmatch(s)
			m, y = monthOf(g[1]), atoi(g[2])
		}
		if m < 1 || m > 12 || y < 1850 {
			return ""
		}
		return fmt.Sprintf("%04d-%02d", y, m)
	default:
		return ""
	}
	t := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
	if m < 1 || m > 12 || d < 1 || t.Day() != d || y < 1850 {
		return ""
	}
	return t.Format("2006-01-02")
}

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }

// notFound is a page's answer for a patient that is not there.
var notFound = fhir.Errorf(fhir.KindNotFound, "no such patient")
