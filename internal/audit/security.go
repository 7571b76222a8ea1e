package audit

// Security events (sign-in and changes to accounts) are recorded as IHE
// BALP does for user authentication: category DICOM 110114 "User
// Authentication" with code 110122 "Login" or 110123 "Logout", action E,
// and the outcome telling success from failure. Changes to an account
// (password, second factor, role, disabled) use DICOM 110113 "Security
// Alert" with 110136 "Security Roles Changed" or 110137 "User Security
// Attributes Changed". The EMR's own interaction code ("login-failed",
// "password-reset", …) goes in the code as a second coding, so a query
// can tell them apart without reading the details.
//
// The SMART authorisation server records its grants as user
// authentication: "token-issued" and "token-refused" with 110122 "Login"
// (a client authenticating and being given, or refused, access),
// "token-revoked" with 110123 "Logout". Registering or removing an OAuth
// client ("client-registered", "client-removed") is a Security Alert with
// 110129 "Security Configuration"; an EHR launch ("launch-created") a
// Security Alert with the EMR's code only.

// Entry.Category values.
const (
	// CategoryUserAuthentication is sign-in and sign-out: Interaction
	// "login", "login-failed" or "logout".
	CategoryUserAuthentication = "user-authentication"
	// CategorySecurityAlert is a change to an account: Interaction
	// "user-created", "password-reset", "mfa-enrolled", "mfa-reset",
	// "user-disabled", "user-enabled", "role-changed", "locked", ….
	CategorySecurityAlert = "security-alert"
	// CategoryImport is data loaded from outside (emr import): DICOM 110107
	// "Import", action C, Interaction "import".
	CategoryImport = "import"
	// CategoryExport is data copied out of the EMR whole (emr backup):
	// DICOM 110106 "Export", action R, Interaction "backup".
	CategoryExport = "export"
)

const (
	dicomSystem = "http://dicom.nema.org/resources/ontology/DCM"
	// InteractionSystem is the code system of the EMR's own security
	// interaction codes (the second coding of AuditEvent.code).
	InteractionSystem = "https://github.com/emr-project/emr/audit-interaction"
	// UserSystem identifies EMR user accounts by name (entity.what.identifier).
	UserSystem = "https://github.com/emr-project/emr/user"
	// ClientSystem identifies OAuth clients (SMART apps and backend
	// services) by client id (agent.who.identifier and entity.what).
	ClientSystem = "https://github.com/emr-project/emr/oauth-client"
)

// securityCodes returns the category and code of a security entry.
func securityCodes(e Entry) (category, code map[string]any) {
	var dcmCode, dcmDisplay string
	switch e.Category {
	case CategoryUserAuthentication:
		category = codeableConcept(dicomSystem, "110114", "User Authentication")
		dcmCode, dcmDisplay = "110122", "Login"
		if e.Interaction == "logout" || e.Interaction == "token-revoked" {
			dcmCode, dcmDisplay = "110123", "Logout"
		}
	case CategoryImport:
		category = codeableConcept(dicomSystem, "110107", "Import")
	case CategoryExport:
		category = codeableConcept(dicomSystem, "110106", "Export")
	default:
		category = codeableConcept(dicomSystem, "110113", "Security Alert")
		switch e.Interaction {
		case "role-changed":
			dcmCode, dcmDisplay = "110136", "Security Roles Changed"
		case "client-registered", "client-removed":
			dcmCode, dcmDisplay = "110129", "Security Configuration"
		case "launch-created", "note-template-changed", "orderable-changed":
			// No DICOM code fits a launch context given to an app, or an
			// administrator's change to the note templates or the
			// orderable catalogue: only the EMR's own code.
		default:
			dcmCode, dcmDisplay = "110137", "User Security Attributes Changed"
		}
	}
	var codings []any
	if dcmCode != "" {
		codings = append(codings, coding(dicomSystem, dcmCode, dcmDisplay))
	}
	code = map[string]any{"coding": append(codings, coding(InteractionSystem, e.Interaction, ""))}
	return category, code
}
