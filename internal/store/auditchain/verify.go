package auditchain

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
	"slices"
	"time"
)

// Record is one audit record as stored.
type Record struct {
	Seq      int64
	Recorded int64 // unix milliseconds
	Event    []byte
	Prev     []byte // the previous record's hash; empty for the first
	Hash     []byte // nil when the store never chained the record
}

// Kinds of Problem.
const (
	Altered            = "altered"             // the record's content does not match its hash
	Unchained          = "unchained"           // the record has no hash
	Missing            = "missing"             // records before this one were removed
	BrokenLink         = "broken link"         // prev is not the previous record's hash: inserted, replaced or reordered
	OutOfOrder         = "out of order"        // seq does not increase
	BadSignature       = "bad signature"       // a checkpoint no trusted key signed
	CheckpointMismatch = "checkpoint mismatch" // the chain does not pass through a checkpoint
	CheckpointMissing  = "checkpoint missing"  // a checkpoint names a record that is not there
)

// Problem is one sign of tampering, at the record (or checkpoint) Seq.
type Problem struct {
	Seq      int64
	Recorded int64 // unix milliseconds of the record (or the checkpoint); 0 when unknown
	Kind     string
	Detail   string
}

func (p Problem) String() string {
	at := ""
	if p.Recorded != 0 {
		at = " (" + FormatTime(p.Recorded) + ")"
	}
	return fmt.Sprintf("seq %d%s: %s: %s", p.Seq, at, p.Kind, p.Detail)
}

// FormatTime writes unix milliseconds as RFC 3339 UTC.
func FormatTime(ms int64) string {
	return time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z")
}

// Summary is what a verification saw.
type Summary struct {
	Records           int64
	FirstSeq, LastSeq int64
	// Checkpoints counts the checkpoints read, ValidCheckpoints those a
	// trusted key signed; the chain passed through PassedCheckpoints of them.
	Checkpoints, ValidCheckpoints, PassedCheckpoints int
	// LastCheckpoint is the highest validly signed checkpoint (Seq 0: none).
	LastCheckpoint Checkpoint
	// Unsealed counts the records after the last checkpoint the chain passed
	// through: their removal or rewrite cannot be detected.
	Unsealed int64
	// SeqGaps counts seq values missing, with the chain intact, among the
	// records written before the chain existed (Config.LegacyThrough): a
	// PostgreSQL sequence skips the numbers of rolled-back appends. After
	// them seq has no gaps, and a missing one is a Problem.
	SeqGaps  int64
	Problems int
}

// Intact reports whether the verification found no problem.
func (s Summary) Intact() bool { return s.Problems == 0 }

// Verifier checks an audit log fed to it record by record in seq order
// (Add), against its checkpoints, and reports each problem as it finds it.
// It holds only the previous record's hash and the checkpoints.
type Verifier struct {
	report   func(Problem)
	legacy   int64
	cps      []Checkpoint // validly signed, by seq
	next     int          // the first of cps the chain has not reached
	started  bool
	anchored bool // the log starts after a purge marker
	lastSeq  int64
	lastHash []byte
	sealedAt int64 // Records when the chain last passed a checkpoint
	sum      Summary
}

// Config is what a Verifier checks against.
type Config struct {
	// Keys are the public keys whose checkpoint signatures are trusted.
	Keys []ed25519.PublicKey
	// Checkpoints are every checkpoint of the log, in any order.
	Checkpoints []Checkpoint
	// Known are (seq, hash) pairs recorded outside the database, e.g. from
	// an earlier verification's summary: trusted without a signature, they
	// catch a rewrite whose checkpoints were removed with it. Only Seq and
	// Hash are used.
	Known []Checkpoint
	// LegacyThrough is the last seq written before the log was chained,
	// up to which seq may have gaps (see Summary.SeqGaps).
	LegacyThrough int64
	// Anchor, when set, is the purge marker the log starts after (the
	// newest purge): the first record must follow it, and checkpoints up
	// to it cover archived records (verified with the archive file).
	Anchor *Purge
	// Report is told of each problem as it is found.
	Report func(Problem)
}

// NewVerifier returns a Verifier for c. A checkpoint with a bad signature is
// reported at once and then ignored.
func NewVerifier(c Config) *Verifier {
	v := &Verifier{legacy: c.LegacyThrough}
	v.report = func(p Problem) {
		v.sum.Problems++
		if c.Report != nil {
			c.Report(p)
		}
	}
	keys := c.Keys
	checkpoints := c.Checkpoints
	v.sum.Checkpoints = len(checkpoints)
	for _, c := range checkpoints {
		if !c.VerifiedBy(keys) {
			v.report(Problem{Seq: c.Seq, Recorded: c.Created, Kind: BadSignature,
				Detail: fmt.Sprintf("checkpoint made %s (key %s) is not signed by a trusted key: forged, or signed by another key", FormatTime(c.Created), c.KeyID)})
			continue
		}
		v.cps = append(v.cps, c)
	}
	slices.SortFunc(v.cps, func(a, b Checkpoint) int { return int(a.Seq - b.Seq) })
	v.sum.ValidCheckpoints = len(v.cps)
	if n := len(v.cps); n > 0 {
		v.sum.LastCheckpoint = v.cps[n-1]
	}
	for _, k := range c.Known {
		v.cps = append(v.cps, Checkpoint{Seq: k.Seq, Hash: k.Hash, given: true})
	}
	slices.SortStableFunc(v.cps, func(a, b Checkpoint) int { return int(a.Seq - b.Seq) })
	if a := c.Anchor; a != nil {
		if !a.VerifiedBy(keys) {
			v.report(Problem{Seq: a.Seq, Recorded: a.Created, Kind: BadSignature,
				Detail: fmt.Sprintf("the purge marker made %s (key %s) is not signed by a trusted key: forged, or signed by another key", FormatTime(a.Created), a.KeyID)})
		}
		// The chain continues from the last record purged.
		v.started, v.anchored = true, true
		v.lastSeq, v.lastHash = a.Seq, slices.Clone(a.Hash)
		for v.next < len(v.cps) && v.cps[v.next].Seq <= a.Seq {
			if cp := v.cps[v.next]; cp.Seq == a.Seq && !bytes.Equal(cp.Hash, a.Hash) {
				v.report(Problem{Seq: a.Seq, Recorded: a.Created, Kind: CheckpointMismatch,
					Detail: fmt.Sprintf("%s says hash %s, the purge marker %s: the log up to here was rewritten", cp.about(), short(cp.Hash), short(a.Hash))})
			}
			v.next++
		}
	}
	return v
}

// Add checks the next record of the log.
func (v *Verifier) Add(r Record) {
	if v.started && r.Seq <= v.lastSeq {
		v.report(Problem{Seq: r.Seq, Recorded: r.Recorded, Kind: OutOfOrder,
			Detail: fmt.Sprintf("follows seq %d", v.lastSeq)})
		return
	}
	if v.sum.Records == 0 {
		v.sum.FirstSeq = r.Seq
	}
	v.sum.Records++
	if r.Hash == nil {
		v.report(Problem{Seq: r.Seq, Recorded: r.Recorded, Kind: Unchained, Detail: "the record has no hash"})
	} else if !bytes.Equal(Hash(r.Prev, r.Seq, r.Recorded, r.Event), r.Hash) {
		v.report(Problem{Seq: r.Seq, Recorded: r.Recorded, Kind: Altered,
			Detail: "its seq, time or event is not what was hashed: the record was edited"})
	}
	gap := r.Seq - v.lastSeq - 1 // before the first record: the seqs below it
	if r.Hash != nil && !bytes.Equal(r.Prev, v.lastHash) {
		switch {
		case !v.started:
			v.report(Problem{Seq: r.Seq, Recorded: r.Recorded, Kind: Missing,
				Detail: "the first record follows another (its previous hash is not empty): records before it were removed"})
		case v.anchored && v.sum.Records == 1:
			v.report(Problem{Seq: r.Seq, Recorded: r.Recorded, Kind: Missing,
				Detail: fmt.Sprintf("the first record does not follow the last one purged (seq %d): records after the purge were removed or replaced", v.lastSeq)})
		case gap > 0:
			v.report(Problem{Seq: r.Seq, Recorded: r.Recorded, Kind: Missing,
				Detail: fmt.Sprintf("seq %d to %d are gone and the chain is broken: records were removed", v.lastSeq+1, r.Seq-1)})
		default:
			v.report(Problem{Seq: r.Seq, Recorded: r.Recorded, Kind: BrokenLink,
				Detail: fmt.Sprintf("its previous hash is not the hash of seq %d: a record was inserted, replaced or reordered here", v.lastSeq)})
		}
	} else if gap > 0 {
		if r.Seq-1 > v.legacy {
			v.report(Problem{Seq: r.Seq, Recorded: r.Recorded, Kind: Missing,
				Detail: fmt.Sprintf("seq %d to %d are gone though the chain is intact: records were removed and the chain after them recomputed", v.lastSeq+1, r.Seq-1)})
		} else if v.started {
			v.sum.SeqGaps += gap
		}
	}
	for v.next < len(v.cps) && v.cps[v.next].Seq <= r.Seq {
		c := v.cps[v.next]
		v.next++
		if c.Seq < r.Seq {
			v.report(Problem{Seq: c.Seq, Recorded: c.Created, Kind: CheckpointMissing,
				Detail: fmt.Sprintf("%s names a record that is not in the log: it was removed", c.about())})
			continue
		}
		if !bytes.Equal(c.Hash, r.Hash) {
			v.report(Problem{Seq: r.Seq, Recorded: r.Recorded, Kind: CheckpointMismatch,
				Detail: fmt.Sprintf("%s says hash %s, the log has %s: the log up to here was rewritten",
					c.about(), short(c.Hash), short(r.Hash))})
			continue
		}
		if !c.given {
			v.sum.PassedCheckpoints++
		}
		v.sealedAt = v.sum.Records
	}
	v.started = true
	v.lastSeq = r.Seq
	v.lastHash = append(v.lastHash[:0], r.Hash...)
}

// Finish reports the checkpoints the log ended before and returns the
// summary.
func (v *Verifier) Finish() Summary {
	for ; v.next < len(v.cps); v.next++ {
		c := v.cps[v.next]
		v.report(Problem{Seq: c.Seq, Recorded: c.Created, Kind: CheckpointMissing,
			Detail: fmt.Sprintf("%s is beyond the end of the log (last seq %d): records were removed from the end", c.about(), v.lastSeq)})
	}
	v.sum.LastSeq = v.lastSeq
	v.sum.Unsealed = v.sum.Records - v.sealedAt
	return v.sum
}

// about names a checkpoint in messages.
func (c Checkpoint) about() string {
	if c.given {
		return "the checkpoint given on the command line"
	}
	return "the checkpoint made " + FormatTime(c.Created)
}

func short(h []byte) string {
	if len(h) > 8 {
		h = h[:8]
	}
	return hex.EncodeToString(h) + "…"
}
