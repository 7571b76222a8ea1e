package access

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/fhir/spec"
	"github.com/emr-project/emr/internal/search"
	"github.com/emr-project/emr/internal/store"
)

// Guard returns st as the caller of ctx may see it: reads of resources it
// may not read look missing (and are audited as denied by the gate),
// searches carry its access rules into the store's query, and history
// across resources is refused to a caller limited to some of them. With
// AllowAll, or a caller who may see everything, it is st itself in effect.
func (g *Gate) Guard(ctx context.Context, st store.Store) store.Store {
	return &guardedStore{Store: st, g: g, ctx: ctx}
}

type guardedStore struct {
	store.Store
	g   *Gate
	ctx context.Context // the caller's, for its rights
}

func (s *guardedStore) Read(ctx context.Context, typ, id string) (*store.Version, error) {
	v, err := s.Store.Read(ctx, typ, id)
	switch {
	case fhir.IsKind(err, fhir.KindGone):
		// A tombstone has no data to hide and no index to check a rule
		// against: 410 for a caller who reaches every resource of the
		// type, a missing resource for the others.
		if Unlimited(s.g.Limit(s.ctx, 'r', []string{typ})) {
			return v, err
		}
		return nil, Denied(fhir.Errorf(fhir.KindNotFound, "%s/%s is not known", typ, id), fmt.Sprintf("%s/%s is deleted and outside the caller's access", typ, id))
	case err != nil:
		return v, err
	}
	if denied := s.g.hidden(s.ctx, StoreSearcher(s.Store), typ, id); denied != nil {
		return nil, denied
	}
	return v, nil
}

func (s *guardedStore) VRead(ctx context.Context, typ, id string, versionID int64) (*store.Version, error) {
	v, err := s.Store.VRead(ctx, typ, id, versionID)
	if err != nil {
		return v, err
	}
	// The resource as it is now decides (a deleted one as Read says).
	if _, err := s.Read(ctx, typ, id); err != nil && !fhir.IsKind(err, fhir.KindGone) {
		return nil, err
	}
	return v, nil
}

func (s *guardedStore) History(ctx context.Context, q store.HistoryQuery) (*store.HistoryPage, error) {
	if q.ID != "" {
		if _, err := s.Read(ctx, q.Type, q.ID); err != nil && !fhir.IsKind(err, fhir.KindGone) {
			return nil, err
		}
		return s.Store.History(ctx, q)
	}
	if err := s.g.wholeTypes(s.ctx, q.Type); err != nil {
		return nil, err
	}
	page, err := s.Store.History(ctx, q)
	if err != nil {
		return nil, err
	}
	return s.g.withoutHidden(s.ctx, StoreSearcher(s.Store), page)
}

// withoutHidden drops from a history page the versions of resources the
// patients' Consents hide from the caller (a page may come out shorter;
// its cursors are kept). Tombstones stay: they carry no data.
func (g *Gate) withoutHidden(ctx context.Context, s Searcher, page *store.HistoryPage) (*store.HistoryPage, error) {
	byType := map[string][]string{}
	for _, v := range page.Versions {
		if !v.Deleted {
			byType[v.Type] = append(byType[v.Type], v.ID)
		}
	}
	visible := map[string]bool{}
	for typ, ids := range byType {
		acc := g.Limit(ctx, 'r', []string{typ})
		if acc == nil {
			for _, id := range ids {
				visible[typ+"/"+id] = true
			}
			continue
		}
		q, err := search.Parse(spec.R5(), typ, url.Values{"_id": {strings.Join(ids, ",")}}, search.ParseOptions{})
		if err != nil {
			return nil, err
		}
		q.Access, q.Count, q.CountGiven = acc, len(ids), true
		res, err := s.search(ctx, q)
		if err != nil {
			return nil, err
		}
		for _, v := range res.Matches {
			visible[typ+"/"+v.ID] = true
		}
	}
	kept := page.Versions[:0:0]
	for _, v := range page.Versions {
		if v.Deleted || visible[v.Type+"/"+v.ID] {
			kept = append(kept, v)
		}
	}
	out := *page
	out.Versions = kept
	return &out, nil
}

func (s *guardedStore) Search(ctx context.Context, q *search.Query) (*store.SearchResult, error) {
	s.g.limitSearch(s.ctx, q)
	return s.Store.Search(ctx, q)
}

// limitSearch gives q the caller's access rules for searching. They cover
// every type, not only those searched: includes, chains and _has look at
// other types, which must be limited as well.
func (g *Gate) limitSearch(ctx context.Context, q *search.Query) {
	q.Access = g.Limit(ctx, 's', nil)
}

// hidden returns the denial to give for typ/id when the caller may not
// read it: a not-found error, as for a resource that does not exist.
func (g *Gate) hidden(ctx context.Context, s Searcher, typ, id string) error {
	ok, err := g.Visible(ctx, s, 'r', typ, id)
	switch {
	case err != nil:
		return err
	case ok:
		return nil
	}
	return Denied(fhir.Errorf(fhir.KindNotFound, "%s/%s is not known", typ, id), fmt.Sprintf("%s/%s is outside the caller's access", typ, id))
}

// wholeTypes refuses history over every resource of typ (of every type
// when "") to a caller who may not search all of them: history has no
// per-resource access filter.
func (g *Gate) wholeTypes(ctx context.Context, typ string) error {
	var types []string
	if typ != "" {
		types = []string{typ}
	}
	if Unlimited(g.Limit(ctx, 's', types)) {
		return nil
	}
	what := "every resource type"
	if typ != "" {
		what = "every " + typ
	}
	return fhir.Errorf(fhir.KindForbidden, "history across resources needs access to %s; ask for the history of one resource", what)
}

// guardTx is tx as the caller of ctx may use it: reads and searches as in
// Guard; an update or delete of a resource it may not see looks like one
// of a missing resource, and a write that leaves a resource outside what
// the caller may create or update fails, undoing the whole transaction.
func (g *Gate) guardTx(ctx context.Context, tx store.Tx) store.Tx {
	if _, ok := g.policy.(Limiter); !ok {
		return tx
	}
	return &guardedTx{Tx: tx, g: g, ctx: ctx}
}

type guardedTx struct {
	store.Tx
	g   *Gate
	ctx context.Context
}

// Unwrap is the transaction without the caller's limits (for the write
// hooks).
func (t *guardedTx) Unwrap() store.Tx { return t.Tx }

func (t *guardedTx) Read(typ, id string) (*store.Version, error) {
	v, err := t.Tx.Read(typ, id)
	switch {
	case fhir.IsKind(err, fhir.KindGone):
		if Unlimited(t.g.Limit(t.ctx, 'r', []string{typ})) {
			return v, err
		}
		return nil, Denied(fhir.Errorf(fhir.KindNotFound, "%s/%s is not known", typ, id), fmt.Sprintf("%s/%s is deleted and outside the caller's access", typ, id))
	case err != nil:
		return v, err
	}
	if denied := t.g.hidden(t.ctx, TxSearcher(t.Tx), typ, id); denied != nil {
		return nil, denied
	}
	return v, nil
}

func (t *guardedTx) Search(q *search.Query) (*store.SearchResult, error) {
	t.g.limitSearch(t.ctx, q)
	return t.Tx.Search(q)
}

func (t *guardedTx) Create(res fhir.Resource) (*store.Version, error) {
	v, err := t.Tx.Create(res)
	if err != nil {
		return v, err
	}
	return v, t.mayHave('c', v)
}

func (t *guardedTx) Update(res fhir.Resource, ifMatch int64) (*store.Version, bool, error) {
	if err := t.mayTouch('u', res.Type(), res.ID()); err != nil {
		return nil, false, err
	}
	v, created, err := t.Tx.Update(res, ifMatch)
	if err != nil {
		return v, created, err
	}
	perm := byte('u')
	if created {
		perm = 'c'
	}
	return v, created, t.mayHave(perm, v)
}

func (t *guardedTx) Delete(typ, id string, ifMatch int64) (*store.Version, error) {
	if err := t.mayTouch('d', typ, id); err != nil {
		return nil, err
	}
	return t.Tx.Delete(typ, id, ifMatch)
}

// mayTouch checks, before perm on typ/id, that an existing resource is
// one the caller may perm: otherwise it looks missing.
func (t *guardedTx) mayTouch(perm byte, typ, id string) error {
	if id == "" || Unlimited(t.g.Limit(t.ctx, perm, []string{typ})) {
		return nil
	}
	if _, err := t.Tx.Read(typ, id); err != nil {
		return nil // nothing there (or a tombstone): nothing to hide
	}
	ok, err := t.g.visible(t.ctx, TxSearcher(t.Tx), perm, typ, id, false)
	switch {
	case err != nil:
		return err
	case !ok:
		return Denied(fhir.Errorf(fhir.KindNotFound, "%s/%s is not known", typ, id), fmt.Sprintf("%s/%s is outside what the caller may %s", typ, id, verbs[perm]))
	}
	return nil
}

// mayHave checks, after a write, that the version written is one the
// caller may perm (a patient user's Observation is about that patient).
func (t *guardedTx) mayHave(perm byte, v *store.Version) error {
	ok, err := t.g.visible(t.ctx, TxSearcher(t.Tx), perm, v.Type, v.ID, false)
	switch {
	case err != nil:
		return err
	case !ok:
		return fhir.Errorf(fhir.KindForbidden, "the caller may not %s this %s: it is outside the patients or data its access reaches", verbs[perm], v.Type)
	}
	return nil
}
