// Package auditchain is the tamper-evident form of the audit log, shared by
// the store that writes it and `emr audit verify` that checks it.
//
// Each record carries the hash of the record before it and its own hash,
// SHA-256 over a canonical encoding of (previous hash, seq, recorded,
// event bytes) (see Hash). Changing, removing, inserting or reordering a
// record breaks a link, unless everything after it is rewritten too. That
// rewrite is what checkpoints catch: every so often the store signs
// (seq, hash, time) of the chain's tip with an Ed25519 key kept outside the
// database (see Sign and key.go), so an attacker who can write the database
// but not read the key cannot make a rewritten chain pass through an
// earlier checkpoint, nor sign a new one.
//
// The package depends on the standard library only; it knows nothing of
// SQL. Verifier checks a stream of records in seq order in constant memory
// beyond the checkpoints (one per 10,000 records by default: 100 for a
// million).
package auditchain

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
)

// HashSize is the size of a record's hash.
const HashSize = sha256.Size

// recordDomain and checkpointDomain separate the two kinds of message, so
// that no record hash can be presented as a checkpoint or the reverse.
const (
	recordDomain     = "emr audit record v1\x00"
	checkpointDomain = "emr audit checkpoint v1\x00"
)

// Hash returns the hash of one record: SHA-256 over
//
//	"emr audit record v1" 0x00
//	len(prev)  1 byte (0 for the first record, 32 after)
//	prev       the previous record's hash
//	seq        8 bytes, big-endian
//	recorded   8 bytes, big-endian (unix milliseconds)
//	len(event) 8 bytes, big-endian
//	event      the stored AuditEvent JSON, byte for byte
//
// Every field has a fixed size or a length before it, so no two records
// encode alike.
func Hash(prev []byte, seq, recorded int64, event []byte) []byte {
	h := sha256.New()
	var buf [len(recordDomain) + 1 + HashSize + 24]byte
	b := append(buf[:0], recordDomain...)
	b = append(b, byte(len(prev)))
	b = append(b, prev...)
	b = binary.BigEndian.AppendUint64(b, uint64(seq))
	b = binary.BigEndian.AppendUint64(b, uint64(recorded))
	b = binary.BigEndian.AppendUint64(b, uint64(len(event)))
	h.Write(b)
	h.Write(event)
	return h.Sum(make([]byte, 0, HashSize))
}

// Checkpoint is a signed statement that the chain's record seq has hash
// Hash, made at Created (unix milliseconds) with the key KeyID names.
type Checkpoint struct {
	Seq       int64
	Hash      []byte
	Created   int64
	KeyID     string
	Signature []byte

	given bool // Config.Known: trusted without a signature
}

// checkpointMessage is what a checkpoint's signature covers.
func checkpointMessage(seq int64, hash []byte, created int64) []byte {
	b := make([]byte, 0, len(checkpointDomain)+16+1+len(hash))
	b = append(b, checkpointDomain...)
	b = binary.BigEndian.AppendUint64(b, uint64(seq))
	b = binary.BigEndian.AppendUint64(b, uint64(created))
	b = append(b, byte(len(hash)))
	return append(b, hash...)
}

// Sign returns the checkpoint of record seq, whose hash is hash, signed
// with key at created.
func Sign(key ed25519.PrivateKey, seq int64, hash []byte, created int64) Checkpoint {
	return Checkpoint{
		Seq: seq, Hash: hash, Created: created,
		KeyID:     KeyID(key.Public().(ed25519.PublicKey)),
		Signature: ed25519.Sign(key, checkpointMessage(seq, hash, created)),
	}
}

// VerifiedBy reports whether one of keys signed c.
func (c Checkpoint) VerifiedBy(keys []ed25519.PublicKey) bool {
	msg := checkpointMessage(c.Seq, c.Hash, c.Created)
	for _, k := range keys {
		if ed25519.Verify(k, msg, c.Signature) {
			return true
		}
	}
	return false
}

// KeyID names a public key: the first 8 bytes of its SHA-256, in hex. It
// only tells keys apart in messages; trust comes from the key itself.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}
