package auth

import (
	"context"
	"fmt"

	"github.com/emr-project/emr/internal/fhir"
)

// AdminName is the user EnsureAdmin creates.
const AdminName = "admin"

// EnsureAdmin creates the user "admin" with the admin role when there is
// no user at all, so a new installation can be signed in to. The password
// is envPassword (EMR_ADMIN_PASSWORD; checked against the policy) or, when
// that is "", a generated one. It returns created and the password, which
// the caller shows once and never logs; when a user exists it does
// nothing. Servers starting together on one database create it once: the
// others find it made.
func EnsureAdmin(ctx context.Context, accounts *Accounts, envPassword string) (created bool, password string, err error) {
	users, err := accounts.List(ctx)
	if err != nil {
		return false, "", err
	}
	if len(users) > 0 {
		return false, "", nil
	}
	password, err = accounts.Add(ctx, AdminName, "admin", AddOptions{Password: envPassword})
	if fhir.IsKind(err, fhir.KindConflict) {
		return false, "", nil
	}
	if err != nil {
		return false, "", fmt.Errorf("create the first administrator: %w", err)
	}
	return true, password, nil
}
