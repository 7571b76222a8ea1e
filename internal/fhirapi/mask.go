package fhirapi

import (
	"context"
	"slices"
	"strings"

	"github.com/emr-project/emr/internal/access"
	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/search"
	"github.com/emr-project/emr/internal/store"
)

// Masking (access.Masker) hides elements from some roles in every answer
// (serveR5 applies it to whatever an interaction returns). Its other half is
// here: a role that was shown a resource without some elements must not
// erase them by sending back what it saw, so every version it writes gets
// them back from the version it replaces.

// restoring returns tx with Update carrying the elements the caller of ctx
// may not see over from the current version (access.Gate.Restore).
func (s *Server) restoring(ctx context.Context, tx store.Tx) store.Tx {
	return &restoringTx{Tx: tx, ctx: ctx, gate: s.opt.Gate}
}

type restoringTx struct {
	store.Tx
	ctx  context.Context
	gate *access.Gate
}

// Unwrap is the transaction it wraps (access.WriteHook's are given the
// innermost).
func (t *restoringTx) Unwrap() store.Tx { return t.Tx }

func (t *restoringTx) Update(res fhir.Resource, ifMatch int64) (*store.Version, bool, error) {
	if id := res.ID(); id != "" {
		if cur, err := t.Tx.Read(res.Type(), id); err == nil && !cur.Deleted {
			restored, err := t.gate.Restore(t.ctx, res, cur.Resource)
			if err != nil {
				return nil, false, err
			}
			res = restored
		}
	}
	return t.Tx.Update(res, ifMatch)
}

// checkMaskedSearch refuses a search that would match or sort on an
// element the caller may not see: its matches would tell what the masked
// element holds. _text (narratives) and _content (the whole resource)
// count as searching the narrative and every masked element.
func (s *Server) checkMaskedSearch(ctx context.Context, q *search.Query) error {
	masked := s.opt.Gate.MaskedPaths(ctx)
	if len(masked) == 0 {
		return nil
	}
	types := q.Types
	if q.Type != "" {
		types = []string{q.Type}
	}
	for _, f := range q.Filters {
		if what := maskedFilter(masked, types, f); what != "" {
			return fhir.Errorf(fhir.KindForbidden, "%s cannot be searched: it is hidden from the caller's role (%s)", f.Name, what)
		}
	}
	for _, k := range q.Sort {
		if k.Param != nil {
			if what := maskedExpression(masked, types, k.Param.Expression); what != "" {
				return fhir.Errorf(fhir.KindForbidden, "_sort=%s: it is hidden from the caller's role (%s)", k.Name, what)
			}
		}
	}
	return nil
}

// maskedFilter names the masked element a filter reaches, "" for none.
func maskedFilter(masked []access.MaskedPath, types []string, f *search.Filter) string {
	switch f.Special {
	case "_text":
		for _, m := range masked {
			if m.Path == "text" && (m.Type == "*" || len(types) == 0 || slices.Contains(types, m.Type)) {
				return m.Type + ".text"
			}
		}
	case "_content":
		for _, m := range masked {
			if m.Type == "*" || len(types) == 0 || slices.Contains(types, m.Type) {
				return m.Type + "." + m.Path
			}
		}
	}
	if f.Param != nil {
		if what := maskedExpression(masked, types, f.Param.Expression); what != "" {
			return what
		}
	}
	if f.Chain != nil {
		var chainTypes []string
		if f.ChainType != "" {
			chainTypes = []string{f.ChainType}
		}
		if what := maskedFilter(masked, chainTypes, f.Chain); what != "" {
			return what
		}
	}
	if f.Has != nil && f.Has.Filter != nil {
		return maskedFilter(masked, []string{f.Has.Type}, f.Has.Filter)
	}
	return ""
}

// maskedExpression names the masked element a search parameter's FHIRPath
// expression reads ("Condition.note" in "Condition.note.text"), "" for
// none. types (all when empty) are the resource types searched.
func maskedExpression(masked []access.MaskedPath, types []string, expr string) string {
	for _, m := range masked {
		path := strings.ReplaceAll(m.Path, "[x]", "")
		var candidates []string
		if m.Type == "*" {
			for _, t := range types {
				candidates = append(candidates, t+"."+path)
			}
		} else if len(types) == 0 || slices.Contains(types, m.Type) {
			candidates = []string{m.Type + "." + path}
		}
		for _, c := range candidates {
			for i := strings.Index(expr, c); i >= 0; {
				end := i + len(c)
				if end == len(expr) || !isIdentByte(expr[end]) {
					if len(m.URLs) == 0 || containsAny(expr, m.URLs) {
						return m.Type + "." + m.Path
					}
				}
				next := strings.Index(expr[end:], c)
				if next < 0 {
					break
				}
				i = end + next
			}
		}
	}
	return ""
}

func isIdentByte(b byte) bool {
	return b == '_' || b >= '0' && b <= '9' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z'
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
