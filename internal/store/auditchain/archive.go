package auditchain

import (
	"bufio"
	"compress/gzip"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// An archive file holds records purged from the log, and what verifying
// them later needs: gzip-compressed NDJSON, one object a line, each with
// one key:
//
//	{"header": {format, version, created, from, through, records, before, legacyThrough, anchor}}
//	{"checkpoint": {Seq, Hash, Created, KeyID, Signature}} (those of the records archived)
//	{"record": {Seq, Recorded, Event, Prev, Hash}}          (in seq order)
//
// Bytes are base64; the event is kept as the exact bytes hashed. anchor is
// the purge marker the archive starts after (none for the log's first
// records). Checkpoints come before the records so that verification
// streams the file in constant memory.

// ArchiveFormat names the file format in its header.
const ArchiveFormat = "emr-audit-archive"

// ArchiveHeader describes an archive.
type ArchiveHeader struct {
	Format        string `json:"format"`
	Version       int    `json:"version"`
	Created       int64  `json:"created"` // unix milliseconds
	From          int64  `json:"from"`    // the first seq archived
	Through       int64  `json:"through"` // the last
	Records       int64  `json:"records"`
	Before        int64  `json:"before"` // the cut-off: records recorded before it (unix ms)
	LegacyThrough int64  `json:"legacyThrough"`
	Anchor        *Purge `json:"anchor,omitempty"`
}

type archiveLine struct {
	Header     *ArchiveHeader `json:"header,omitempty"`
	Record     *Record        `json:"record,omitempty"`
	Checkpoint *Checkpoint    `json:"checkpoint,omitempty"`
}

// ArchiveWriter writes an archive.
type ArchiveWriter struct {
	gz  *gzip.Writer
	enc *json.Encoder
}

// NewArchiveWriter starts an archive on w with its header.
func NewArchiveWriter(w io.Writer, h ArchiveHeader) (*ArchiveWriter, error) {
	h.Format, h.Version = ArchiveFormat, 1
	gz := gzip.NewWriter(w)
	a := &ArchiveWriter{gz: gz, enc: json.NewEncoder(gz)}
	return a, a.enc.Encode(archiveLine{Header: &h})
}

// Record appends a record.
func (a *ArchiveWriter) Record(r Record) error { return a.enc.Encode(archiveLine{Record: &r}) }

// Checkpoint appends a checkpoint.
func (a *ArchiveWriter) Checkpoint(c Checkpoint) error {
	return a.enc.Encode(archiveLine{Checkpoint: &c})
}

// Close ends the gzip stream (not w).
func (a *ArchiveWriter) Close() error { return a.gz.Close() }

// ArchiveResult is what VerifyArchive read.
type ArchiveResult struct {
	Header   ArchiveHeader
	Summary  Summary
	LastHash []byte // the hash of the last record in the file
}

// VerifyArchive checks an archive on its own: every record's hash and
// link, from the anchor (or an empty hash) on, the chain through the
// checkpoints it holds (signed by keys), and that it holds what its header
// says. Each problem goes to report. An error means the file could not be
// read to the end.
func VerifyArchive(r io.Reader, keys []ed25519.PublicKey, report func(Problem)) (ArchiveResult, error) {
	var res ArchiveResult
	if report == nil {
		report = func(Problem) {}
	}
	var (
		cps   []Checkpoint
		v     *Verifier
		first int64
	)
	start := func() {
		if v == nil {
			v = NewVerifier(Config{Keys: keys, Checkpoints: cps, LegacyThrough: res.Header.LegacyThrough, Anchor: res.Header.Anchor, Report: report})
		}
	}
	header, err := readArchive(r, func(c Checkpoint) error {
		if v != nil {
			return errors.New("unexpected") // a checkpoint after the records
		}
		cps = append(cps, c)
		return nil
	}, func(rec Record) error {
		start()
		if first == 0 {
			first = rec.Seq
		}
		v.Add(rec)
		res.LastHash = rec.Hash
		return nil
	}, &res.Header)
	if err != nil {
		return res, err
	}
	start()
	res.Summary = v.Finish()
	if res.Summary.Records != header.Records || res.Summary.LastSeq != header.Through || first != header.From {
		report(Problem{Seq: res.Summary.LastSeq, Kind: Missing,
			Detail: fmt.Sprintf("the archive holds %d records (seq %d to %d), its header says %d (seq %d to %d): records were removed or added",
				res.Summary.Records, first, res.Summary.LastSeq, header.Records, header.From, header.Through)})
		res.Summary.Problems++
	}
	return res, nil
}

// ArchiveRecords calls fn with each record of an archive, in order, after
// reading its header, which it returns; it verifies nothing (VerifyArchive
// does). An error from fn stops it and is returned.
func ArchiveRecords(r io.Reader, fn func(Record) error) (ArchiveHeader, error) {
	var header ArchiveHeader
	return readArchive(r, func(Checkpoint) error { return nil }, fn, &header)
}

// readArchive reads an archive: its header into *header (as soon as it is
// read, for the callbacks to use), then each checkpoint and record in
// the file's order. An error from a callback stops it and is returned.
func readArchive(r io.Reader, checkpoint func(Checkpoint) error, record func(Record) error, header *ArchiveHeader) (ArchiveHeader, error) {
	gz, err := gzip.NewReader(r)
	if err != nil {
		return *header, fmt.Errorf("archive: %w", err)
	}
	sc := bufio.NewScanner(gz)
	sc.Buffer(make([]byte, 1<<20), 1<<30)
	for line := 1; sc.Scan(); line++ {
		var l archiveLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			return *header, fmt.Errorf("archive: line %d: %w", line, err)
		}
		switch {
		case line == 1 && (l.Header == nil || l.Header.Format != ArchiveFormat):
			return *header, fmt.Errorf("archive: not an audit archive")
		case line == 1:
			*header = *l.Header
		case l.Checkpoint != nil:
			if err := checkpoint(*l.Checkpoint); err != nil {
				return *header, fmt.Errorf("archive: line %d: %w", line, err)
			}
		case l.Record != nil:
			if err := record(*l.Record); err != nil {
				return *header, err
			}
		default:
			return *header, fmt.Errorf("archive: line %d: unexpected", line)
		}
	}
	if err := sc.Err(); err != nil {
		return *header, fmt.Errorf("archive: %w", err)
	}
	if header.Format == "" {
		return *header, fmt.Errorf("archive: empty file")
	}
	return *header, nil
}
