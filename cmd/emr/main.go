// Command emr is the whole EMR in one binary: `emr serve` runs the FHIR API
// (and, as it grows, the web UI and HL7 v2 listener) on embedded SQLite or
// PostgreSQL; other subcommands administer it. This is the only package that
// chooses a storage backend and wires the services together.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// command is one subcommand.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"serve", "run the EMR server (FHIR R5 API at /fhir)", runServe},
		{"import", "import FHIR Bundles and NDJSON files or directories into the store", runImport},
		{"export", "write a de-identified NDJSON copy of patients' records (--deidentify)", runExport},
		{"user", "add, list, disable and enable users; reset passwords and second factors", runUser},
		{"client", "register, list and remove SMART apps and backend services (OAuth 2.0 clients)", runClient},
		{"mpi", "find duplicate patients already registered (emr mpi scan) and list the review queue", runMPI},
		{"reindex", "rebuild the search index (resumable)", runReindex},
		{"backup", "copy the SQLite database, its audit file and keys, while the server runs", runBackup},
		{"restore", "make a new data directory of a backup, checked and its audit log verified", runRestore},
		{"audit", "verify the tamper-evident audit log (emr audit verify)", runAudit},
		{"hl7", "send HL7 v2 message files over MLLP and print their acknowledgments (emr hl7 send)", runHL7},
		{"bench", "load generated patients and measure the FHIR API's query latency", runBench},
		{"role", "list the roles and what each may read and write", runRole},
		{"version", "print the version", runVersion},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes the command line and returns the exit code: 0 success,
// 1 failure, 2 usage error.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands() {
		if c.name == args[0] {
			err := c.run(ctx, args[1:], stdout, stderr)
			switch {
			case err == nil:
				return 0
			case errors.Is(err, flag.ErrHelp):
				return 0
			case errors.As(err, new(usageError)):
				fmt.Fprintf(stderr, "emr %s: %v\n", c.name, err)
				return 2
			default:
				fmt.Fprintf(stderr, "emr %s: %v\n", c.name, err)
				return 1
			}
		}
	}
	fmt.Fprintf(stderr, "emr: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "emr: an electronic medical record system with a FHIR R5 API.")
	fmt.Fprintln(w, "\nUsage: emr <command> [flags]\n\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'emr <command> -h' for a command's flags. Every flag can also be set")
	fmt.Fprintln(w, "with an EMR_* environment variable (e.g. --addr as EMR_ADDR).")
}

// usageError is a mistake on the command line (exit code 2).
type usageError struct{ error }
