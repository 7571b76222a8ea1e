package fhir

import (
	"fmt"
	"regexp"
	"strconv"
	"time"
)

// dateTimePattern is the FHIR dateTime grammar: a year, optionally month,
// day, and a time with seconds, fraction and zone.
var dateTimePattern = regexp.MustCompile(`^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$`)

// ParseDateRange reads a FHIR date, dateTime or instant and returns the range
// its precision implies, [start, end): "2013" is the whole year, "2013-01-02"
// the whole day, "2013-01-02T10:00:00.123Z" one millisecond. A time without a
// zone is taken as UTC.
func ParseDateRange(s string) (start, end time.Time, err error) {
	m := dateTimePattern.FindStringSubmatch(s)
	if m == nil {
		return time.Time{}, time.Time{}, fmt.Errorf("%q is not a FHIR date or dateTime", s)
	}
	num := func(i, def int) int {
		if m[i] == "" {
			return def
		}
		n, _ := strconv.Atoi(m[i])
		return n
	}
	year, month, day := num(1, 0), num(2, 1), num(3, 1)
	hour, minute, sec := num(4, 0), num(5, 0), num(6, 0)
	if month < 1 || month > 12 || day < 1 || day > 31 || hour > 24 || minute > 59 || sec > 60 {
		return time.Time{}, time.Time{}, fmt.Errorf("%q is not a valid date", s)
	}
	loc := time.UTC
	if z := m[8]; z != "" && z != "Z" {
		h, _ := strconv.Atoi(z[1:3])
		mm, _ := strconv.Atoi(z[4:6])
		off := h*3600 + mm*60
		if z[0] == '-' {
			off = -off
		}
		loc = time.FixedZone(z, off)
	}
	nanos := 0
	fracDigits := 0
	if f := m[7]; f != "" {
		fracDigits = len(f) - 1
		n, _ := strconv.Atoi(f[1:])
		for i := fracDigits; i < 9; i++ {
			n *= 10
		}
		nanos = n
	}
	start = time.Date(year, time.Month(month), day, hour, minute, sec, nanos, loc)
	if start.Day() != day {
		return time.Time{}, time.Time{}, fmt.Errorf("%q is not a valid date", s)
	}
	switch {
	case m[2] == "":
		end = start.AddDate(1, 0, 0)
	case m[3] == "":
		end = start.AddDate(0, 1, 0)
	case m[4] == "":
		end = start.AddDate(0, 0, 1)
	case m[6] == "":
		end = start.Add(time.Minute)
	case m[7] == "":
		end = start.Add(time.Second)
	default:
		unit := time.Duration(1)
		for i := fracDigits; i < 9; i++ {
			unit *= 10
		}
		end = start.Add(unit)
	}
	return start.UTC(), end.UTC(), nil
}

// FormatInstant writes t as a FHIR instant in UTC with millisecond precision,
// the form the store uses for meta.lastUpdated.
func FormatInstant(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }
