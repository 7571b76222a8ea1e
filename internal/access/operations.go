package access

import (
	"context"
	"fmt"
	"strings"

	"github.com/emr-project/emr/internal/fhir"
)

// Operations are rights the SMART letters cannot express, granted by name
// in a role's "operations" list:
//
//	deidentify  Patient/[id]/$deidentify: a patient's record, de-identified
//	            (docs/deidentify.md), whatever the role may read otherwise.
//	merge       Patient/$merge and Patient/$unmerge: move every reference
//	            from a duplicate patient to the surviving one (and back),
//	            whatever types the role may write otherwise.
//
// By default only admin has deidentify; a deployment gives it to a research
// role of its roles file, e.g. {"name": "researcher", "patients": "all",
// "mfa": true, "permissions": [{"types": ["@knowledge"], "perms": "rs"}],
// "operations": ["deidentify"]}. Admin and registrar have merge: the front
// desk finds and resolves duplicate registrations in most hospitals.
const (
	OperationDeidentify = "deidentify"
	OperationMerge      = "merge"
)

var knownOperations = map[string]bool{OperationDeidentify: true, OperationMerge: true}

// Operations lists the known operations, sorted.
func Operations() []string { return []string{OperationDeidentify, OperationMerge} }

func checkOperations(role string, ops []string) (map[string]bool, error) {
	if len(ops) == 0 {
		return nil, nil
	}
	out := map[string]bool{}
	for _, op := range ops {
		if !knownOperations[op] {
			return nil, fmt.Errorf("role %s: unknown operation %q (known: %s)", role, op, strings.Join(Operations(), ", "))
		}
		out[op] = true
	}
	return out, nil
}

// Operator is a Policy that also grants named operations (Operations).
type Operator interface {
	// MayRun returns nil when the caller of ctx may run operation op, or
	// the error to answer (forbidden, unauthorized).
	MayRun(ctx context.Context, op string) error
}

// MayRun implements Operator: the caller's role must list op; a SMART
// token must also grant user/ or system/ read of Patient (or of every
// type), since the operation reaches any patient.
func (p *RolePolicy) MayRun(ctx context.Context, op string) error {
	pr := PrincipalFrom(ctx)
	if pr == nil {
		return fhir.Errorf(fhir.KindUnauthorized, "authentication is required")
	}
	role, ok := p.roles.Role(pr.Role)
	if !ok || !role.operations[op] {
		return fhir.Errorf(fhir.KindForbidden, "the %s role may not run $%s", pr.Role, op)
	}
	if pr.Grants == nil {
		return nil
	}
	for _, g := range pr.Grants {
		if g.Context != "patient" && (g.Type == "Patient" || g.Type == "*") && strings.Contains(g.Perms, "r") && len(g.Filters) == 0 {
			return nil
		}
	}
	return fhir.Errorf(fhir.KindForbidden, "$%s needs a user/ or system/ scope reading Patient", op)
}

// MayRun asks the policy whether the caller may run operation op: nil
// when it may; a policy without named operations (AllowAll) allows it.
func (g *Gate) MayRun(ctx context.Context, op string) error {
	if o, ok := g.policy.(Operator); ok {
		return o.MayRun(ctx, op)
	}
	return nil
}
