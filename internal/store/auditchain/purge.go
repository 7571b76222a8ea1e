package auditchain

import (
	"crypto/ed25519"
	"encoding/binary"
)

// A purge moves the oldest records of the log to an archive file and
// deletes them (emr audit archive). What remains starts with a record
// whose prev_hash is the hash of the last record purged: the purge marker,
// a signed statement "records through Seq were archived, the last one's
// hash was Hash, into a file whose SHA-256 is ArchiveSHA256", anchors it.
// Verification of the live log starts from the newest marker instead of
// an empty hash; verification of an archive file checks that its last
// record is what the marker says and that the file is the one it names.

const purgeDomain = "emr audit purge v1\x00"

// Purge is a purge marker.
type Purge struct {
	Seq           int64 // the last record purged
	Hash          []byte
	Created       int64 // unix milliseconds
	Records       int64 // how many records this purge removed
	Archive       string
	ArchiveSHA256 []byte
	KeyID         string
	Signature     []byte
}

func purgeMessage(p Purge) []byte {
	b := make([]byte, 0, len(purgeDomain)+24+2+len(p.Hash)+len(p.ArchiveSHA256))
	b = append(b, purgeDomain...)
	b = binary.BigEndian.AppendUint64(b, uint64(p.Seq))
	b = binary.BigEndian.AppendUint64(b, uint64(p.Created))
	b = binary.BigEndian.AppendUint64(b, uint64(p.Records))
	b = append(b, byte(len(p.Hash)))
	b = append(b, p.Hash...)
	b = append(b, byte(len(p.ArchiveSHA256)))
	return append(b, p.ArchiveSHA256...)
}

// SignPurge signs p (its Seq, Hash, Created, Records and ArchiveSHA256)
// with key, setting KeyID and Signature.
func SignPurge(key ed25519.PrivateKey, p Purge) Purge {
	p.KeyID = KeyID(key.Public().(ed25519.PublicKey))
	p.Signature = ed25519.Sign(key, purgeMessage(p))
	return p
}

// VerifiedBy reports whether one of keys signed p.
func (p Purge) VerifiedBy(keys []ed25519.PublicKey) bool {
	msg := purgeMessage(p)
	for _, k := range keys {
		if ed25519.Verify(k, msg, p.Signature) {
			return true
		}
	}
	return false
}
