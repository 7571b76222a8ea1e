package importer

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/emr-project/emr/internal/fhir"
)

// job is one piece of work for a worker: a whole JSON file, or a chunk of
// an NDJSON file's lines.
type job struct {
	file  string
	bytes int64 // input bytes it covers, for the progress estimate
	json  []byte
	lines []ndjsonLine
	// version is the file's version, decided by the reader for NDJSON;
	// for a JSON file VersionAuto leaves it to the worker.
	version Version
	// refused, when set, fails every resource of the job without a problem
	// of its own: the file's one problem is fileProblem, sent once.
	refused     bool
	fileProblem *Problem
	skipped     *Problem
}

type ndjsonLine struct {
	no   int
	data []byte
}

// ndjsonChunk is the number of lines handed to a worker at a time: enough
// to keep the channel overhead small, few enough to spread a file over
// every worker.
const ndjsonChunk = 256

// detectLines is how many lines of an NDJSON file auto detection looks at.
const detectLines = 200

// listFiles expands the paths: a file is taken whatever its name, a
// directory contributes its *.json and *.ndjson files, recursively, sorted.
func listFiles(paths []string) ([]string, int64, error) {
	var files []string
	var total int64
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, 0, err
		}
		if !st.IsDir() {
			files = append(files, p)
			total += st.Size()
			continue
		}
		var found []string
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			name := strings.ToLower(d.Name())
			if d.IsDir() || !(strings.HasSuffix(name, ".json") || strings.HasSuffix(name, ".ndjson")) {
				return nil
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			found = append(found, path)
			total += info.Size()
			return nil
		})
		if err != nil {
			return nil, 0, err
		}
		sort.Strings(found)
		files = append(files, found...)
	}
	return files, total, nil
}

// isNDJSON tells the formats apart by content, not by name: NDJSON has a
// second JSON value after the first line; a JSON file is one value,
// usually spread over many lines.
func isNDJSON(name string, head []byte) bool {
	lower := strings.ToLower(name)
	if strings.HasSuffix(lower, ".ndjson") || strings.HasSuffix(lower, ".jsonl") {
		return true
	}
	if strings.HasSuffix(lower, ".json") {
		return false
	}
	first, rest, ok := bytes.Cut(bytes.TrimLeft(head, " \t\r\n"), []byte("\n"))
	return ok && bytes.HasSuffix(bytes.TrimSpace(first), []byte("}")) && bytes.HasPrefix(bytes.TrimSpace(rest), []byte("{"))
}

// readFiles turns every file into jobs.
func readFiles(ctx context.Context, opts Options, files []string, jobs chan<- *job) error {
	send := func(j *job) error {
		select {
		case jobs <- j:
			return nil
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
	for _, file := range files {
		f, err := os.Open(file)
		if err != nil {
			if err := send(&job{file: file, fileProblem: &Problem{File: file, Message: err.Error()}}); err != nil {
				return err
			}
			continue
		}
		br := bufio.NewReaderSize(f, 1<<20)
		head, _ := br.Peek(4096)
		if isNDJSON(file, head) {
			err = readNDJSON(opts, file, br, send)
		} else {
			var data []byte
			data, err = io.ReadAll(br)
			if err == nil {
				err = send(&job{file: file, bytes: int64(len(data)), json: data, version: opts.FHIRVersion})
			}
		}
		f.Close()
		if err != nil {
			if ctx.Err() != nil {
				return context.Cause(ctx)
			}
			if err := send(&job{file: file, fileProblem: &Problem{File: file, Message: err.Error()}}); err != nil {
				return err
			}
		}
	}
	return nil
}

// readNDJSON cuts an NDJSON file into chunks of lines, after deciding its
// version from its first lines.
func readNDJSON(opts Options, file string, br *bufio.Reader, send func(*job) error) error {
	var pending []ndjsonLine
	var pendingBytes int64
	no := 0
	decided, skip := false, false
	cur := &job{file: file, version: opts.FHIRVersion}
	flush := func() error {
		if len(pending) == 0 && cur.fileProblem == nil {
			return nil
		}
		j := *cur
		j.lines, j.bytes = pending, pendingBytes
		pending, pendingBytes = nil, 0
		cur.fileProblem = nil // reported once, with the first chunk
		return send(&j)
	}
	decide := func() error {
		decided = true
		first := -1
		for i, l := range pending {
			if len(bytes.TrimSpace(l.data)) > 0 {
				first = i
				break
			}
		}
		if first >= 0 {
			if v, err := fhir.ParseJSON(pending[first].data); err == nil {
				if obj, ok := v.(map[string]any); ok {
					if _, ok := obj["resourceType"].(string); !ok {
						// Not FHIR: e.g. the log.ndjson of a bulk export.
						skip = true
						return send(&job{file: file, skipped: &Problem{File: file, Message: "not FHIR NDJSON (the first line has no resourceType)"}})
					}
				}
			}
		}
		if cur.version == VersionAuto {
			cur.version = VersionR5
			for _, l := range pending {
				if res, err := fhir.ParseResource(l.data); err == nil {
					if sign := r4Sign(res); sign != "" {
						cur.version = VersionR4
						break
					}
				}
			}
		}
		if cur.version == VersionR4 && opts.ConvertR4 == nil {
			cur.refused = true
			cur.fileProblem = &Problem{File: file, Message: errNoConverter.Error()}
		}
		return flush()
	}
	for {
		data, err := br.ReadBytes('\n')
		if len(data) > 0 {
			no++
			pending = append(pending, ndjsonLine{no: no, data: data})
			pendingBytes += int64(len(data))
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("read line %d: %w", no+1, err)
		}
		atEOF := err != nil
		switch {
		case !decided && (len(pending) >= detectLines || atEOF):
			if err := decide(); err != nil {
				return err
			}
			if skip {
				return nil
			}
		case decided && (len(pending) >= ndjsonChunk || atEOF):
			if err := flush(); err != nil {
				return err
			}
		}
		if atEOF {
			return nil
		}
	}
}
