package deid

import "strings"

// restrictedZIP3 are the three-digit ZIP code prefixes whose areas held
// 20,000 people or fewer in the 2000 Census: Safe Harbor replaces them by
// 000. Source: HHS Office for Civil Rights, "Guidance Regarding Methods
// for De-identification of Protected Health Information in Accordance with
// the HIPAA Privacy Rule" (26 November 2012), section 3.3.1 (Q: "What are
// the geographic subdivisions…"), which lists these 17 prefixes from the
// Census Bureau's 2000 data. Refresh when HHS publishes a newer list.
var restrictedZIP3 = map[string]bool{
	"036": true, "059": true, "063": true, "102": true, "203": true, "556": true,
	"692": true, "790": true, "821": true, "823": true, "830": true, "831": true,
	"878": true, "879": true, "884": true, "890": true, "893": true,
}

// generalizeZIP returns what Safe Harbor allows of a postal code: the
// first three digits of a US ZIP code (000 for a restricted prefix); ""
// for a code that is not a US ZIP code, which goes whole.
func generalizeZIP(code string, country any) string {
	if c, ok := country.(string); ok && c != "" {
		switch strings.ToUpper(c) {
		case "US", "USA", "UNITED STATES", "UNITED STATES OF AMERICA":
		default:
			return ""
		}
	}
	digits := strings.TrimSpace(code)
	if len(digits) != 5 && !(len(digits) == 10 && digits[5] == '-') {
		return ""
	}
	for i, r := range digits {
		if i != 5 && (r < '0' || r > '9') {
			return ""
		}
	}
	if restrictedZIP3[digits[:3]] {
		return "000"
	}
	return digits[:3]
}
