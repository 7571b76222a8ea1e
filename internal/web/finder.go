package web

import (
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/emr-project/emr/internal/access"
	"github.com/emr-project/emr/internal/fhir"
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
}

type finderData struct {
	Query string
	Rows  []finderRow
	More  bool
	// Searched is false before any query (the page shows recent patients).
	Searched bool
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
	}
	name := "home"
	if r.URL.Query().Get("partial") == "1" {
		name = "finder-results"
	}
	ws.render(w, http.StatusOK, name, v)
	return nil
}

// find turns what was typed into searches: a date in a usual written form
// searches the birth date, a word with a digit the identifiers and phones, and
// every other word must be part of a name (accent- and case-insensitive,
// any script: the string index is folded). The searches run as one
// audited read.
func (ws *Workspace) find(r *http.Request, l *Locale, q string) ([]finderRow, bool, error) {
	params := url.Values{"_count": {strconv.Itoa(finderLimit + 1)}, "_sort": {"family,given"}, "_total": {"none"}}
	var numbers []string
	for _, word := range strings.Fields(q) {
		if d := parseWrittenDate(word); d != "" {
			params.Add("birthdate", d)
			continue
		}
		if onlyDigits(word) != "" {
			numbers = append(numbers, word)
			continue
		}
		params.Add("name:contains", word)
	}
	queries := []url.Values{params}
	if len(numbers) > 0 {
		// A number is an identifier or a phone: one search each, merged.
		queries = nil
		for _, n := range numbers {
			for _, p := range []string{"identifier", "phone"} {
				qv := url.Values{}
				for k, v := range params {
					qv[k] = v
				}
				qv.Set(p, n)
				queries = append(queries, qv)
			}
		}
	}
	var rows []finderRow
	seen := map[string]bool{}
	more := false
	now := ws.now()
	err := ws.read(r, access.Request{Interaction: "search-type", Type: "Patient", Query: "ui:/?q=" + q}, func(st store.Store) ([]access.Touched, error) {
		var touched []access.Touched
		for _, qv := range queries {
			sq, err := search.Parse(ws.Definitions, "Patient", qv, search.ParseOptions{})
			if err != nil {
				return nil, err
			}
			res, err := st.Search(r.Context(), sq)
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
				rows = append(rows, finderRowOf(l, v, now))
				touched = append(touched, access.TouchedVersion(v))
			}
		}
		return touched, nil
	})
	return rows, more, err
}

func finderRowOf(l *Locale, v *store.Version, now time.Time) finderRow {
	p := v.Resource
	row := finderRow{ID: v.ID, Name: DisplayName(p), Preferred: preferredName(p), Sex: l.sex(str(p, "gender")),
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
	isoDate   = regexp.MustCompile(`^(\d{4})-(\d{1,2})-(\d{1,2})$`)
	slashDate = regexp.MustCompile(`^(\d{1,2})[/.](\d{1,2})[/.](\d{4})$`)
	monDate   = regexp.MustCompile(`^(\d{1,2})[- ]?([A-Za-z]{3,9})[- ]?(\d{4})$`)
)

var monthNames = map[string]int{"jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6, "jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12}

// parseWrittenDate reads a birth date as people write it: 1984-03-09,
// 09-Mar-1984, 9 March 1984, or 9/3/1984 and 9.3.1984 (day first, as
// written in most of the world); "" when the word is not a date.
func parseWrittenDate(s string) string {
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
		d, y = atoi(g[1]), atoi(g[3])
		m = monthNames[strings.ToLower(g[2])[:3]]
	default:
		return ""
	}
	t := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
	if m < 1 || m > 12 || t.Day() != d || y < 1850 {
		return ""
	}
	return t.Format("2006-01-02")
}

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }

// notFound is a page's answer for a patient that is not there.
var notFound = fhir.Errorf(fhir.KindNotFound, "no such patient")
