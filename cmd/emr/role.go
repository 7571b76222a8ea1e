package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/emr-project/emr/internal/access"
	"github.com/emr-project/emr/internal/fhir/spec"
)

// runRole prints the roles and what each may do: `emr role list`, with
// the deployment's --roles file when given, so an administrator can check
// a file before serving with it.
func runRole(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "list" {
		fmt.Fprintln(stderr, "Usage: emr role list [--roles FILE] [--verbose]")
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			return flag.ErrHelp
		}
		return usageError{errors.New("the subcommand is list")}
	}
	fs := newFlagSet("role list", stderr)
	rolesFile := fs.String("roles", "", "roles file replacing or adding to the built-in roles (JSON; see docs/security.md)")
	verbose := fs.Bool("verbose", false, "list each resource type a role may act on, with its letters")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	defs := spec.R5()
	roles, err := loadRoles(defs, *rolesFile)
	if err != nil {
		return err
	}
	for _, name := range roles.Names() {
		role, _ := roles.Role(name)
		mfa := ""
		if role.MFA {
			mfa = ", MFA"
		}
		grants := role.Grants(defs)
		fmt.Fprintf(stdout, "%s (patients: %s%s; %d resource types): %s\n", name, role.Patients, mfa, len(grants), role.Description)
		if *verbose {
			fmt.Fprintf(stdout, "    %s\n", strings.Join(grants, "\n    "))
		}
	}
	return nil
}

// loadRoles returns the built-in roles, with those of file when given.
func loadRoles(defs *spec.Definitions, file string) (*access.Roles, error) {
	if file == "" {
		return access.DefaultRoles(defs), nil
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("--roles: %w", err)
	}
	roles, err := access.LoadRoles(defs, data)
	if err != nil {
		return nil, fmt.Errorf("--roles %s: %w", file, err)
	}
	return roles, nil
}
