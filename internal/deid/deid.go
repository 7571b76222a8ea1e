// Package deid de-identifies FHIR R5 resources by the HIPAA Safe Harbor
// method (45 CFR 164.514(b)(2)) with stable keyed pseudonyms: names,
// telecoms, photos, narratives, notes and every other free-text string go;
// addresses keep the state, the country and the first three digits of a US
// ZIP code (000 for the sparsely populated areas, zip3.go); identifiers,
// resource ids and references become HMAC-SHA256 pseudonyms under a secret
// key, so that repeated exports with the same key agree and references stay
// consistent; dates move by a per-patient offset derived from the same key
// (intervals within one patient are kept), birth dates keep only their year,
// and ages over 89 collapse into one "90 or older" category.
//
// The walk is driven by the R5 definitions: every element is handled by
// its type (HumanName, Address, ContactPoint, Identifier, Attachment,
// Reference, Narrative, Annotation, the date types, strings), so that types
// nobody listed are still covered, and an element the definitions do not
// know is dropped rather than passed on. What the package cannot judge (a
// code's display text, a free-text string that is not one) and what Safe
// Harbor asks beyond it are in docs/deidentify.md.
package deid

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/fhir/spec"
)

// KeySize is the length of a pseudonymisation key in bytes.
const KeySize = 32

// MaxShiftDays bounds the per-patient date offset: dates move by 1 to 180
// days, earlier or later.
const MaxShiftDays = 180

// Deidentifier de-identifies resources under one key.
type Deidentifier struct {
	defs *spec.Definitions
	key  []byte
	// inCompartment are the types of the Patient compartment (ShiftKey).
	inCompartment map[string]bool
	// Now is the date ages are reckoned at for the living (ages over 89
	// are aggregated); time.Now when zero.
	Now time.Time
}

// New returns a Deidentifier with key (KeySize bytes, secret: whoever has
// it can test a guess of an identifier against its pseudonym).
func New(defs *spec.Definitions, key []byte) (*Deidentifier, error) {
	if len(key) < 16 {
		return nil, errors.New("deid: the key must have at least 16 bytes")
	}
	d := &Deidentifier{defs: defs, key: key, inCompartment: map[string]bool{}}
	for _, t := range CompartmentTypes(defs) {
		d.inCompartment[t] = true
	}
	return d, nil
}

// LoadOrCreateKey reads the key file at path, or creates it (mode 0600)
// with a fresh random key when it does not exist. created says which.
func LoadOrCreateKey(path string) (key []byte, created bool, err error) {
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		key, err = hex.DecodeString(strings.TrimSpace(string(data)))
		if err != nil || len(key) < 16 {
			return nil, false, fmt.Errorf("deid: %s is not a key file (hex, at least 16 bytes)", path)
		}
		return key, false, nil
	case !errors.Is(err, fs.ErrNotExist):
		return nil, false, fmt.Errorf("deid: read key: %w", err)
	}
	key = make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, false, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, false, fmt.Errorf("deid: create key: %w", err)
	}
	if _, err := f.WriteString(hex.EncodeToString(key) + "\n"); err != nil {
		f.Close()
		return nil, false, fmt.Errorf("deid: write key: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, false, fmt.Errorf("deid: write key: %w", err)
	}
	return key, true, nil
}

// KeyID names a key without revealing it (for manifests and audit
// records): the first 8 bytes of its SHA-256, in hex.
func KeyID(key []byte) string {
	sum := sha256.Sum256(key)
	return hex.EncodeToString(sum[:8])
}

func (d *Deidentifier) mac(parts ...string) []byte {
	h := hmac.New(sha256.New, d.key)
	h.Write([]byte(strings.Join(parts, "\x00")))
	return h.Sum(nil)
}

// Pseudonym is the id typ/id gets: 32 hex digits of HMAC-SHA256(key,
// typ/id). The same key gives the same pseudonym in every export.
func (d *Deidentifier) Pseudonym(typ, id string) string {
	return hex.EncodeToString(d.mac("resource", typ+"/"+id)[:16])
}

// identifierPseudonym replaces an identifier's value.
func (d *Deidentifier) identifierPseudonym(system, value string) string {
	return hex.EncodeToString(d.mac("identifier", system, value)[:16])
}

// ShiftDays is the offset, in days, of every date of patient (a Patient
// id; "" for resources of no patient): 1 to MaxShiftDays either way,
// never 0, derived from the key.
func (d *Deidentifier) ShiftDays(patient string) int {
	n := int(binary.BigEndian.Uint32(d.mac("date-shift", patient)) % (2 * MaxShiftDays))
	if n < MaxShiftDays {
		return -(n + 1)
	}
	return n - MaxShiftDays + 1
}

// Resource returns the de-identified copy of res, whose dates move by the
// offset of patient (the id of the Patient whose record it is part of; ""
// for none). res is not modified.
func (d *Deidentifier) Resource(res fhir.Resource, patient string) (fhir.Resource, error) {
	typ := res.Type()
	if !d.defs.IsResource(typ) {
		return nil, fmt.Errorf("deid: %q is not an R5 resource type", typ)
	}
	now := d.Now
	if now.IsZero() {
		now = time.Now()
	}
	w := &walker{d: d, shift: d.ShiftDays(patient), now: now}
	out := w.resource(map[string]any(res), true)
	return fhir.Resource(out), nil
}

// KeyID names the Deidentifier's key (see KeyID).
func (d *Deidentifier) KeyID() string { return KeyID(d.key) }
