package smart

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/store"
)

// Record kinds this package keeps in the store.
const (
	KindClient      = "client"        // key: client_id
	KindSigningKey  = "signing-key"   // key: kid
	KindLaunch      = "launch"        // key: HashToken(launch id)
	KindAuthRequest = "authz-request" // key: HashToken(request id), a login in progress
	KindAuthCode    = "auth-code"     // key: HashToken(code)
	KindRefresh     = "refresh-token" // key: HashToken(token), owner: user
	KindRevoked     = "revoked-token" // key: jti of a revoked access token
	KindAssertionID = "assertion-jti" // key: client_id + " " + jti of a used client assertion
)

// getJSON reads kind/key into v. A record past its expiry by now (the
// server's clock, which tests set) counts as missing too.
func getJSON(ctx context.Context, recs store.Records, kind, key string, now time.Time, v any) (*store.Record, error) {
	rec, err := recs.GetRecord(ctx, kind, key)
	if err != nil {
		return nil, err
	}
	if !rec.Expires.IsZero() && !now.Before(rec.Expires) {
		return nil, fhir.Errorf(fhir.KindNotFound, "%s has expired", kind)
	}
	if err := json.Unmarshal(rec.Value, v); err != nil {
		return nil, fmt.Errorf("smart: decode %s record: %w", kind, err)
	}
	return rec, nil
}

// putJSON stores v as kind/key (see store.Records.PutRecord for ifVersion).
func putJSON(ctx context.Context, recs store.Records, kind, key, owner string, expires time.Time, v any, ifVersion int64) (int64, error) {
	value, err := json.Marshal(v)
	if err != nil {
		return 0, fmt.Errorf("smart: encode %s record: %w", kind, err)
	}
	return recs.PutRecord(ctx, &store.Record{Kind: kind, Key: key, Owner: owner, Expires: expires, Value: value}, ifVersion)
}

func isNotFound(err error) bool { return fhir.IsKind(err, fhir.KindNotFound) }

// lostRace reports an error of a create-only or versioned put that another
// request won.
func lostRace(err error) bool {
	return fhir.IsKind(err, fhir.KindConflict) || fhir.IsKind(err, fhir.KindPreconditionFailed)
}
