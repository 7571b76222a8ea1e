package tofhir

import (
	"net/url"
	"strings"
)

// What follows is the inverse of the mapping, for the messages the EMR
// writes (package outbound): one table serves both directions, so that a
// message the EMR sends maps back to what it was made from.

// CodeSystemName is the HL7 v2 name (table 0396) of a FHIR code system
// URI: LN for LOINC, SCT for SNOMED CT, HL7nnnn for a v2 table; "" for
// one without a name.
func CodeSystemName(uri string) string {
	if n, ok := strings.CutPrefix(uri, "http://terminology.hl7.org/CodeSystem/v2-"); ok && len(n) == 4 {
		return "HL7" + n
	}
	return codeSystemNames[uri]
}

// codeSystemNames is codeSystems the other way, with the first name of
// each URI in the order HL7 prefers.
var codeSystemNames = func() map[string]string {
	out := map[string]string{}
	for _, name := range []string{"LN", "SCT", "I10", "I10C", "I9C", "UCUM", "CVX", "NDC", "RXNORM", "CPT"} {
		out[codeSystems[name]] = name
	}
	return out
}()

// Authority is the assigning authority (an HD: namespace, universal id
// and its type) of an identifier system, as Map reads it back: the
// namespace opts.Authorities gives the system, an ISO OID, a UUID, the
// namespace of a system Map made for one (urn:emr:hl7v2:authority:),
// else the system as a URI.
func Authority(system string, opts Options) (namespace, universalID, idType string) {
	for ns, uri := range opts.Authorities {
		if uri == system {
			return ns, "", ""
		}
	}
	switch {
	case strings.HasPrefix(system, "urn:oid:"):
		return "", strings.TrimPrefix(system, "urn:oid:"), "ISO"
	case strings.HasPrefix(system, "urn:uuid:"):
		return "", strings.TrimPrefix(system, "urn:uuid:"), "UUID"
	case strings.HasPrefix(system, localAuthorityPrefix):
		if ns, err := url.PathUnescape(strings.TrimPrefix(system, localAuthorityPrefix)); err == nil {
			return ns, "", ""
		}
	}
	return "", system, "URI"
}
