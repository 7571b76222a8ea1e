package validate

import "testing"

// FuzzCommonDateTime: the fast recognition of dates and times accepts
// only what the definitions' expressions accept.
func FuzzCommonDateTime(f *testing.F) {
	for _, s := range []string{"2020-01-02", "2020-01-02T10:00:00Z", "2020-01-02T10:00:00.123+01:00", "2020-01-02T23:59:60-14:00",
		"2020-01-02T10:00:00+14:00", "2020-01-02T10:00:00+14:01", "0000-01-01", "2020-13-01", "2020-01-32", "2020-01-02T24:00:00Z",
		"2020-01-02T10:00:00.1234567890Z", "2020-01-02T10:00:00", "2020-01-02T10:00Z", "2020-01", "2020-1-02", "2020-01-02T10:00:00.Z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ok, timed := commonDateTime(s)
		if ok && !dateTimeRE.MatchString(s) {
			t.Errorf("commonDateTime(%q) accepts what dateTimeRE refuses", s)
		}
		if ok && timed && !instantRE.MatchString(s) {
			t.Errorf("commonDateTime(%q) takes for an instant what instantRE refuses", s)
		}
		if ok && !timed && len(s) != 10 {
			t.Errorf("commonDateTime(%q): a date of %d bytes", s, len(s))
		}
	})
}

// TestCommonDateTimeSeen: the shapes it is for are recognised.
func TestCommonDateTimeSeen(t *testing.T) {
	for _, s := range []string{"2020-01-02", "2020-01-02T10:00:00Z", "2019-02-13T08:14:34+00:00", "2020-01-02T10:00:00.123-05:00"} {
		if ok, _ := commonDateTime(s); !ok {
			t.Errorf("commonDateTime(%q) is false", s)
		}
	}
}
