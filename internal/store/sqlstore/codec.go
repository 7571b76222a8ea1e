package sqlstore

import (
	"fmt"
	"strconv"
	"time"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/store"
)

// instantLayout is how meta.lastUpdated is written: a FHIR instant in UTC
// with milliseconds, the precision of the last_updated column.
const instantLayout = "2006-01-02T15:04:05.000Z"

func formatInstant(t time.Time) string { return t.UTC().Format(instantLayout) }

// stamp sets the server-owned meta elements on res, keeping the rest of meta
// (tags, profiles, security labels, source).
func stamp(res fhir.Resource, versionID int64, now time.Time) {
	meta := res.Meta()
	meta["versionId"] = strconv.FormatInt(versionID, 10)
	meta["lastUpdated"] = formatInstant(now)
}

// versionColumns are the columns scanVersion reads, in order, from a
// resource_version row aliased v.
const versionColumns = "v.seq, v.type, v.id, v.version_id, v.last_updated, v.deleted, v.resource"

type rowScanner interface{ Scan(dest ...any) error }

// scanVersion reads one versionColumns row and parses its JSON.
func scanVersion(row rowScanner) (*store.Version, error) {
	var (
		v       store.Version
		updated int64
		deleted bool
		body    []byte
	)
	if err := row.Scan(&v.Seq, &v.Type, &v.ID, &v.VersionID, &updated, &deleted, &body); err != nil {
		return nil, err
	}
	v.LastUpdated = time.UnixMilli(updated).UTC()
	v.Deleted = deleted
	if !deleted {
		res, err := fhir.ParseResource(body)
		if err != nil {
			return nil, fmt.Errorf("stored JSON of %s/%s/_history/%d: %w", v.Type, v.ID, v.VersionID, err)
		}
		v.Resource = res
	}
	return &v, nil
}

// notFound and gone are the client-facing errors of read and vread.
func notFound(typ, id string) error {
	return fhir.Errorf(fhir.KindNotFound, "resource %s/%s is not known", typ, id)
}

func versionNotFound(typ, id string, versionID int64) error {
	return fhir.Errorf(fhir.KindNotFound, "version %d of resource %s/%s is not known", versionID, typ, id)
}

func gone(typ, id string, versionID int64) error {
	return fhir.Errorf(fhir.KindGone, "resource %s/%s was deleted (version %d)", typ, id, versionID)
}
