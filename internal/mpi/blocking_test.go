package mpi

import (
	"slices"
	"testing"
)

func TestBlockingKeys(t *testing.T) {
	base := pt{given: "William", family: "Smith", birth: "1955-02-03", phone: "+1 555 123 4567", postcode: "90210",
		ids: [][2]string{{"urn:ssn", "123-45-6789"}}}
	keys := FromPatient(base.resource()).BlockingKeys()
	for _, want := range []string{"id:urn:ssn|123456789", "ph:551234567", "nd:SMT|1955-02-03", "pd:90210|1955-02-03"} {
		if !slices.Contains(keys, want) {
			t.Errorf("keys %q lack %q", keys, want)
		}
	}
	if len(keys) > 16 {
		t.Errorf("%d keys, want at most 16: %q", len(keys), keys)
	}
	// Each variant shares at least one key with base even without phone,
	// postcode or identifier, which would make it trivial.
	bare := pt{given: "William", family: "Smith", birth: "1955-02-03"}
	variants := map[string]pt{
		"nickname":       {given: "Bill", family: "Smith", birth: "1955-02-03"},
		"swapped names":  {given: "Smith", family: "William", birth: "1955-02-03"},
		"swapped date":   {given: "William", family: "Smith", birth: "1955-03-02"},
		"year off":       {given: "William", family: "Smyth", birth: "1956-02-03"},
		"typo and day":   {given: "Wiliam", family: "Smith", birth: "1955-02-13"},
		"married name":   {given: "William", family: "Jones", birth: "1955-02-03"},
		"typo in family": {given: "William", family: "Smiht", birth: "1955-02-03"},
	}
	bareKeys := FromPatient(bare.resource()).BlockingKeys()
	for name, v := range variants {
		shared := false
		for _, k := range FromPatient(v.resource()).BlockingKeys() {
			shared = shared || slices.Contains(bareKeys, k)
		}
		if !shared {
			t.Errorf("%s: no key in common with %q", name, bareKeys)
		}
	}
}

func TestIndexCandidates(t *testing.T) {
	ix := NewIndex()
	ix.Add("a", FromPatient(pt{given: "William", family: "Smith", birth: "1955-02-03", phone: "555 123 4567"}.resource()))
	ix.Add("b", FromPatient(pt{given: "Mary", family: "Jones", birth: "1960-01-01"}.resource()))
	ix.Add("c", FromPatient(pt{given: "Anne", family: "Smith", birth: "1957-05-06", phone: "555 123 4567"}.resource()))
	got := ix.Candidates(FromPatient(pt{given: "Bill", family: "Smith", birth: "1955-02-03", phone: "5551234567"}.resource()), 10)
	var ids []string
	for _, c := range got {
		ids = append(ids, c.ID)
	}
	if !slices.Equal(ids, []string{"a", "c"}) {
		t.Errorf("got candidates %q, want [a c] (most shared keys first, never b)", ids)
	}
	if len(ix.Candidates(Person{}, 10)) != 0 {
		t.Error("an empty person has candidates")
	}
}
