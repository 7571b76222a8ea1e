package smart

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emr-project/emr/internal/auth"
	"github.com/emr-project/emr/internal/store"
)

// signingKeys keeps the token signing keys in the store, shared by every
// server: the newest key signs, older ones verify until the tokens they
// signed have expired. Each server holds the current auth.KeySet and
// swaps in a new one on reload.
type signingKeys struct {
	records     store.Records
	rotateAfter time.Duration // a signing key older than this is replaced
	retain      time.Duration // how long a replaced key still verifies
	now         func() time.Time
	logger      *slog.Logger

	set      atomic.Pointer[auth.KeySet]
	mu       sync.Mutex // serialises reloads
	lastLoad atomic.Int64
}

// reload reads the keys from the store, generating and storing a new
// signing key when there is none or the newest is older than rotateAfter,
// and giving replaced keys an expiry of retain from now.
func (k *signingKeys) reload(ctx context.Context) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	now := k.now()
	keys, recs, err := k.load(ctx)
	if err != nil {
		return err
	}
	if len(keys) == 0 || now.Sub(keys[0].Created()) >= k.rotateAfter {
		key, err := auth.GenerateKey(now)
		if err != nil {
			return err
		}
		value, err := key.PrivateJSON()
		if err != nil {
			return err
		}
		// Two servers rotating at once both add a key; the newer of the
		// two signs everywhere after their next reload, and both verify.
		if _, err := k.records.PutRecord(ctx, &store.Record{Kind: KindSigningKey, Key: key.ID(), Value: value}, 0); err != nil {
			return fmt.Errorf("smart: store signing key: %w", err)
		}
		k.logger.Info("smart: new token signing key", "kid", key.ID())
		if keys, recs, err = k.load(ctx); err != nil {
			return err
		}
	}
	if len(keys) == 0 {
		return errors.New("smart: no usable signing key in the store")
	}
	// Keys older than the newest sign nothing new: they expire once every
	// token they signed has (retain covers the longest lifetime and the
	// time other servers take to reload).
	for _, rec := range recs[1:] {
		if rec.Expires.IsZero() {
			rec.Expires = now.Add(k.retain)
			if _, err := k.records.PutRecord(ctx, rec, rec.Version); err != nil && !lostRace(err) {
				return fmt.Errorf("smart: retire signing key %s: %w", rec.Key, err)
			}
		}
	}
	set, err := auth.NewKeySet(keys[0], keys[1:]...)
	if err != nil {
		return err
	}
	k.set.Store(set)
	k.lastLoad.Store(now.UnixNano())
	return nil
}

// load returns the stored keys newest first (by creation, then kid), with
// their records in the same order.
func (k *signingKeys) load(ctx context.Context) ([]*auth.Key, []*store.Record, error) {
	recs, err := k.records.ListRecords(ctx, KindSigningKey, "")
	if err != nil {
		return nil, nil, fmt.Errorf("smart: load signing keys: %w", err)
	}
	type pair struct {
		key *auth.Key
		rec *store.Record
	}
	var pairs []pair
	now := k.now()
	for _, r := range recs {
		if !r.Expires.IsZero() && !now.Before(r.Expires) {
			continue
		}
		key, err := auth.ParseKey(r.Value)
		if err != nil {
			k.logger.Error("smart: unreadable signing key record", "kid", r.Key, "err", err)
			continue
		}
		pairs = append(pairs, pair{key, r})
	}
	sort.Slice(pairs, func(i, j int) bool {
		a, b := pairs[i].key, pairs[j].key
		if !a.Created().Equal(b.Created()) {
			return a.Created().After(b.Created())
		}
		return a.ID() > b.ID()
	})
	keys := make([]*auth.Key, len(pairs))
	out := make([]*store.Record, len(pairs))
	for i, p := range pairs {
		keys[i], out[i] = p.key, p.rec
	}
	return keys, out, nil
}

// current returns the key set in use.
func (k *signingKeys) current() *auth.KeySet { return k.set.Load() }

// reloadSoon reloads unless a reload happened within the last few
// seconds: a token signed by another server's brand-new key names a kid
// this server has not loaded yet.
func (k *signingKeys) reloadSoon(ctx context.Context) bool {
	if k.now().Sub(time.Unix(0, k.lastLoad.Load())) < 5*time.Second {
		return false
	}
	if err := k.reload(ctx); err != nil {
		k.logger.Error("smart: reload signing keys", "err", err)
		return false
	}
	return true
}
