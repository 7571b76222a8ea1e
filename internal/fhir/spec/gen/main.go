// Command gen compiles the official FHIR R5 core package (an npm tarball of
// JSON resources) into the compact definitions embedded by package spec.
//
// Usage: go run ./gen -pkg path/to/hl7.fhir.r5.core-5.0.0.tgz -out r5.json.gz
//
// The output depends only on the input bytes: everything is sorted and the
// gzip header carries no time or name, so regenerating gives the same file.
package main

import (
	"flag"
	"fmt"
	"os"
)

func main() {
	pkg := flag.String("pkg", "../shared/fhir/hl7.fhir.r5.core-5.0.0.tgz", "the hl7.fhir.r5.core package tarball")
	out := flag.String("out", "internal/fhir/spec/r5.json.gz", "the file to write")
	flag.Parse()
	in, err := os.ReadFile(*pkg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
	data, stats, err := Generate(in)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
	if err := os.WriteFile(*out, data, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
	fmt.Printf("gen: wrote %s (%d bytes): %s\n", *out, len(data), stats)
}
