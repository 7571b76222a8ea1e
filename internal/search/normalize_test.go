package search

import "testing"

func TestNormalize(t *testing.T) {
	cases := map[string]string{
		"José":           "jose",
		"MÜLLER":         "muller",
		"Nguyễn":         "nguyen",
		"  Peter   Jim ": "peter jim",
		"Straße":         "strasse",
		"Øre Łódź":       "ore lodz",
		"ＡＢＣ":            "abc",
		"Ἀλέξανδρος":     "αλεξανδροσ",
	}
	for in, want := range cases {
		if got := Normalize(in); got != want {
			t.Errorf("Normalize(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNumberRange(t *testing.T) {
	cases := []struct {
		in        string
		low, high float64
	}{
		{"100", 99.5, 100.5},
		{"100.00", 99.995, 100.005},
		{"1e2", 95, 105},
		{"0.1", 0.05, 0.15},
		{"-5", -5.5, -4.5},
	}
	for _, c := range cases {
		_, low, high, err := NumberRange(c.in)
		if err != nil || !near(low, c.low) || !near(high, c.high) {
			t.Errorf("NumberRange(%q) = [%v, %v) %v, want [%v, %v)", c.in, low, high, err, c.low, c.high)
		}
	}
}

func near(a, b float64) bool { d := a - b; return d < 1e-9 && d > -1e-9 }

// FuzzNormalizeASCII: the ASCII fast path gives what the full rule gives.
func FuzzNormalizeASCII(f *testing.F) {
	for _, s := range []string{"", " ", "Body Height", "a  b", " a", "a ", "A\tB\r\nC", "x\v\fy", "already lower"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for i := 0; i < len(s); i++ {
			if s[i] >= 0x80 {
				t.Skip("not ASCII")
			}
		}
		if got, want := normalizeASCII(s), normalizeUnicode(s); got != want {
			t.Errorf("normalizeASCII(%q) = %q, the full rule %q", s, got, want)
		}
	})
}
