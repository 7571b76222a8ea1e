package deid

import "time"

// date moves a date, dateTime or instant by the walker's offset, keeping
// its precision and, for a time, the clock time and zone as written (so
// that intervals are kept to the second). A year alone is not shifted:
// Safe Harbor allows the year. Unparsable values are dropped.
func (w *walker) date(s string) any {
	switch {
	case len(s) == 4:
		return s
	case len(s) == 7:
		t, err := time.Parse("2006-01", s)
		if err != nil {
			return nil
		}
		// From the middle of the month, so that a shift of a few days
		// moves the month no more often than the days of a full date do.
		return t.AddDate(0, 0, 14+w.shift).Format("2006-01")
	case len(s) >= 10:
		t, err := time.Parse("2006-01-02", s[:10])
		if err != nil {
			return nil
		}
		return t.AddDate(0, 0, w.shift).Format("2006-01-02") + s[10:]
	}
	return nil
}
