package fhir

import (
	"errors"
	"fmt"
)

// Kind classifies an error so that the edge (HTTP, HL7 ACK, CLI) can answer
// it correctly without knowing where it came from.
type Kind int

const (
	KindInternal           Kind = iota // a fault of ours: 500, details only in the log
	KindInvalid                        // malformed request or resource: 400
	KindUnprocessable                  // well-formed but breaks a rule or profile: 422
	KindNotFound                       // no such resource or route: 404
	KindGone                           // the resource is deleted: 410
	KindConflict                       // version conflict or duplicate: 409
	KindPreconditionFailed             // If-Match or conditional ambiguity: 412
	KindForbidden                      // the caller may not do this: 403
	KindUnauthorized                   // the caller is not authenticated: 401
	KindNotSupported                   // an interaction or feature we do not offer: 405/501 by context
	KindMethodNotAllowed               // wrong HTTP method for the route: 405
	KindTooLarge                       // request body over the limit: 413
	KindUnsupportedMedia               // a media type we do not read: 415
	KindNotAcceptable                  // a media type we cannot answer in: 406
)

// Issue is one OperationOutcome.issue.
type Issue struct {
	Severity    string   // fatal | error | warning | information
	Code        string   // IssueType code: invalid, structure, required, value, not-found, ...
	Diagnostics string   // human-readable, safe to show to the client
	Expression  []string // FHIRPath of the offending element(s)
}

// Error is the error every layer of the EMR returns for something a client
// should hear about. Cause, when set, is logged but never sent.
type Error struct {
	Kind   Kind
	Issues []Issue
	Cause  error
}

func (e *Error) Error() string {
	msg := ""
	for i, is := range e.Issues {
		if i > 0 {
			msg += "; "
		}
		msg += is.Diagnostics
		if len(is.Expression) > 0 {
			msg += fmt.Sprintf(" (at %s)", is.Expression[0])
		}
	}
	if e.Cause != nil {
		msg += ": " + e.Cause.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Cause }

// Errorf returns an *Error of the given kind with one issue whose code fits the kind.
func Errorf(kind Kind, format string, args ...any) *Error {
	return &Error{Kind: kind, Issues: []Issue{{Severity: "error", Code: kind.issueCode(), Diagnostics: fmt.Sprintf(format, args...)}}}
}

// At returns an *Error of the given kind with one issue pointing at expression.
func At(kind Kind, code, expression, format string, args ...any) *Error {
	return &Error{Kind: kind, Issues: []Issue{{Severity: "error", Code: code, Diagnostics: fmt.Sprintf(format, args...), Expression: []string{expression}}}}
}

// KindOf returns the Kind of err: the kind of the first *Error in its chain,
// or KindInternal.
func KindOf(err error) Kind {
	var fe *Error
	if errors.As(err, &fe) {
		return fe.Kind
	}
	return KindInternal
}

// IsKind reports whether err is an *Error of kind k.
func IsKind(err error, k Kind) bool { return err != nil && KindOf(err) == k }

func (k Kind) issueCode() string {
	switch k {
	case KindInvalid:
		return "invalid"
	case KindUnprocessable:
		return "processing"
	case KindNotFound:
		return "not-found"
	case KindGone:
		return "deleted"
	case KindConflict:
		return "conflict"
	case KindPreconditionFailed:
		return "conflict"
	case KindForbidden:
		return "forbidden"
	case KindUnauthorized:
		return "login"
	case KindNotSupported, KindMethodNotAllowed, KindUnsupportedMedia, KindNotAcceptable:
		return "not-supported"
	case KindTooLarge:
		return "too-costly"
	default:
		return "exception"
	}
}

// OperationOutcome returns the issues as an OperationOutcome resource.
func OperationOutcome(issues ...Issue) Resource {
	list := make([]any, 0, len(issues))
	for _, is := range issues {
		entry := map[string]any{"severity": is.Severity, "code": is.Code}
		if entry["severity"] == "" {
			entry["severity"] = "error"
		}
		if is.Diagnostics != "" {
			entry["diagnostics"] = is.Diagnostics
		}
		if len(is.Expression) > 0 {
			exprs := make([]any, len(is.Expression))
			for i, e := range is.Expression {
				exprs[i] = e
			}
			entry["expression"] = exprs
		}
		list = append(list, entry)
	}
	return Resource{"resourceType": "OperationOutcome", "issue": list}
}
