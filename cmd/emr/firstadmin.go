package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/emr-project/emr/internal/access"
	"github.com/emr-project/emr/internal/auth"
	"github.com/emr-project/emr/internal/fhir"
)

// firstAdmin creates the administrator of a new installation (no user
// yet) and tells the operator its password on stdout, once: it is never
// logged, and later starts print nothing. EMR_ADMIN_PASSWORD, when set,
// is the password (it must pass the password policy); otherwise one is
// generated.
func firstAdmin(ctx context.Context, accounts *auth.Accounts, stdout io.Writer) error {
	env := os.Getenv("EMR_ADMIN_PASSWORD")
	// The audit record of the creation names the server as the actor.
	ctx = access.WithPrincipal(ctx, &access.Principal{User: "emr serve (first start)"})
	created, pw, err := auth.EnsureAdmin(ctx, accounts, env)
	if err != nil {
		var fe *fhir.Error
		if env != "" && errors.As(err, &fe) && fe.Kind == fhir.KindInvalid {
			return fmt.Errorf("EMR_ADMIN_PASSWORD: %v", fe)
		}
		return err
	}
	if !created {
		return nil
	}
	if env != "" {
		fmt.Fprintf(stdout, "First start: created the administrator account %q with the password in EMR_ADMIN_PASSWORD.\n", auth.AdminName)
		return nil
	}
	fmt.Fprintf(stdout, "First start: created the administrator account.\n  user:     %s\n  password: %s\n", auth.AdminName, pw)
	fmt.Fprintln(stdout, "Store this password now: it is shown only this once and is not logged.")
	fmt.Fprintln(stdout, "Sign in, enrol a second factor, and add users with `emr user add`.")
	return nil
}
