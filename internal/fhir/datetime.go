package fhir

import (
	"fmt"
	"strconv"
	"time"
)

// DateTimeParts splits s by the FHIR dateTime grammar: a year, optionally
// month, day, and a time (hours and minutes, optionally seconds with a
// fraction) with an optional zone. m holds, as a regular expression's
// submatches would, the whole, the year, month, day, hour, minute,
// second, the fraction with its dot and the zone ("" where absent).
// (The test keeps the grammar as that regular expression and compares.)
func DateTimeParts(s string) (m [9]string, ok bool) {
	digits := func(at, n int) bool {
		if len(s) < at+n {
			return false
		}
		for i := at; i < at+n; i++ {
			if s[i] < '0' || s[i] > '9' {
				return false
			}
		}
		return true
	}
	m[0] = s
	if !digits(0, 4) {
		return m, false
	}
	m[1] = s[:4]
	at := 4
	if at == len(s) {
		return m, true
	}
	if s[at] != '-' || !digits(at+1, 2) {
		return m, false
	}
	m[2], at = s[at+1:at+3], at+3
	if at == len(s) {
		return m, true
	}
	if s[at] != '-' || !digits(at+1, 2) {
		return m, false
	}
	m[3], at = s[at+1:at+3], at+3
	if at == len(s) {
		return m, true
	}
	if s[at] != 'T' || !digits(at+1, 2) || len(s) < at+4 || s[at+3] != ':' || !digits(at+4, 2) {
		return m, false
	}
	m[4], m[5], at = s[at+1:at+3], s[at+4:at+6], at+6
	if at < len(s) && s[at] == ':' {
		if !digits(at+1, 2) {
			return m, false
		}
		m[6], at = s[at+1:at+3], at+3
		if at < len(s) && s[at] == '.' {
			end := at + 1
			for end < len(s) && end-at <= 9 && '0' <= s[end] && s[end] <= '9' {
				end++
			}
			if end == at+1 {
				return m, false
			}
			m[7], at = s[at:end], end
		}
	}
	if at == len(s) {
		return m, true
	}
	switch {
	case s[at] == 'Z' && at+1 == len(s):
		m[8] = "Z"
		return m, true
	case (s[at] == '+' || s[at] == '-') && len(s) == at+6 && digits(at+1, 2) && s[at+3] == ':' && digits(at+4, 2):
		m[8] = s[at:]
		return m, true
	}
	return m, false
}

// ParseDateRange reads a FHIR date, dateTime or instant and returns the range
// its precision implies, [start, end): "2013" is the whole year, "2013-01-02"
// the whole day, "2013-01-02T10:00:00.123Z" one millisecond. A time without a
// zone is taken as UTC.
func ParseDateRange(s string) (start, end time.Time, err error) {
	m, ok := DateTimeParts(s)
	if !ok {
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
