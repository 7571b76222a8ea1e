package r4

import "github.com/emr-project/emr/internal/fhir"

// Consent: R5 renames the parties (patient → subject, performer → grantor,
// organization → manager), moves the root provision's type to decision,
// turns policyRule into regulatoryBasis and dateTime into a date. R4 scope
// and policy have no R5 home and stay extensions.
func init() {
	supported["Consent"] = true
	addToR5("Consent.status", codeMap(consentStatusR5, consentStatusR4))
	addToR4("Consent.status", codeMap(consentStatusR4, consentStatusR5))
	for r4, r5 := range map[string]string{
		"Consent.patient":         "subject",
		"Consent.performer":       "grantor",
		"Consent.organization":    "manager",
		"Consent.policyRule":      "regulatoryBasis",
		"Consent.provision.class": "resourceType",
	} {
		addToR5(r4, rename(r5))
		addToR4(parentPath(r4)+"."+r5, rename(nameOf(r4)))
	}
	addToR5("Consent.dateTime", consentDateToR5)
	addToR4("Consent.date", rename("dateTime"))
	addToR5("Consent.provision", consentProvisionToR5)
	addToR4("Consent.provision", consentProvisionToR4)
	addToR4("Consent.decision", func(c *converter, out, src map[string]any, key string, e *elem, ty, at string) error {
		if _, ok := src["_"+key]; ok {
			return c.keep(out, src, key, e, ty)
		}
		provisionOf(out)["type"] = src[key]
		return nil
	})
}

// Consent.status: R4 draft | proposed | active | rejected | inactive |
// entered-in-error; R5 draft | active | inactive | not-done |
// entered-in-error | unknown.
var (
	consentStatusR5 = map[string]string{
		"draft": "draft", "proposed": "draft", "active": "active", "rejected": "not-done",
		"inactive": "inactive", "entered-in-error": "entered-in-error",
	}
	consentStatusR4 = map[string]string{
		"draft": "draft", "active": "active", "not-done": "rejected",
		"inactive": "inactive", "entered-in-error": "entered-in-error",
	}
)

// consentDateToR5 keeps the date of Consent.dateTime; a time of day, which
// an R5 date cannot hold, is kept whole as an extension too.
func consentDateToR5(c *converter, out, src map[string]any, key string, e *elem, ty, at string) error {
	s, ok := src[key].(string)
	if !ok || len(s) <= 10 {
		return c.element(out, src, key, "date", e, ty, at)
	}
	if err := c.element(out, map[string]any{key: s[:10]}, key, "date", e, ty, at); err != nil {
		return err
	}
	return c.keep(out, src, key, e, ty)
}

func consentProvisionToR5(c *converter, out, src map[string]any, key string, e *elem, ty, at string) error {
	p, ok := src[key].(map[string]any)
	if !ok {
		return c.keep(out, src, key, e, ty)
	}
	rest := make(map[string]any, len(p))
	for k, v := range p {
		switch k {
		case "type":
			out["decision"] = fhir.CloneValue(v)
		case "_type":
			out["_decision"] = fhir.CloneValue(v)
		default:
			rest[k] = v
		}
	}
	if len(rest) == 0 {
		return nil
	}
	return c.element(out, map[string]any{key: rest}, key, key, e, ty, at)
}

func consentProvisionToR4(c *converter, out, src map[string]any, key string, e *elem, ty, at string) error {
	tmp := map[string]any{}
	if err := c.element(tmp, src, key, key, e, ty, at); err != nil {
		return err
	}
	if p, ok := tmp[key].(map[string]any); ok {
		merged := provisionOf(out)
		for k, v := range p {
			merged[k] = v
		}
	}
	if exts, ok := tmp["extension"].([]any); ok {
		list, _ := out["extension"].([]any)
		out["extension"] = append(list, exts...)
	}
	return nil
}

// provisionOf returns out's provision object, creating it.
func provisionOf(out map[string]any) map[string]any {
	p, _ := out["provision"].(map[string]any)
	if p == nil {
		p = map[string]any{}
		out["provision"] = p
	}
	return p
}
