package tofhir

import (
	"errors"
	"strconv"
	"strings"
	"time"
)

// dtm is an HL7 v2 date and time (DTM, and TS's first component):
// YYYY[MM[DD[HH[MM[SS[.S[S[S[S]]]]]]]]][+/-ZZZZ].
type dtm struct {
	t      time.Time
	digits int    // 4 (year), 6, 8 (day), 10 (hour), 12, 14 (second)
	frac   string // fractional seconds as written
	offset bool   // written with its offset
}

var errDTM = errors.New("not a date and time of the form YYYY[MM[DD[HH[MM[SS[.S…]]]]]][+/-ZZZZ]")

// parseDTM reads s; a time without an offset is in zone.
func parseDTM(s string, zone *time.Location) (dtm, error) {
	var d dtm
	body := s
	if i := strings.IndexAny(s, "+-"); i >= 0 {
		body = s[:i]
		off := s[i+1:]
		if len(off) != 4 || !digits(off) {
			return d, errDTM
		}
		h, _ := strconv.Atoi(off[:2])
		m, _ := strconv.Atoi(off[2:])
		if h > 14 || m > 59 {
			return d, errDTM
		}
		secs := h*3600 + m*60
		if s[i] == '-' {
			secs = -secs
		}
		zone = time.FixedZone("", secs)
		d.offset = true
	}
	whole, frac, point := strings.Cut(body, ".")
	if point && (len(whole) != 14 || frac == "" || len(frac) > 4 || !digits(frac)) {
		return d, errDTM
	}
	switch len(whole) {
	case 4, 6, 8, 10, 12, 14:
	default:
		return d, errDTM
	}
	if !digits(whole) {
		return d, errDTM
	}
	part := func(from, to, absent int) int {
		if len(whole) < to {
			return absent
		}
		n, _ := strconv.Atoi(whole[from:to])
		return n
	}
	year, month, day := part(0, 4, 0), part(4, 6, 1), part(6, 8, 1)
	hour, minute, second := part(8, 10, 0), part(10, 12, 0), part(12, 14, 0)
	if year < 1 || month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59 {
		return d, errDTM
	}
	d.t = time.Date(year, time.Month(month), day, hour, minute, second, 0, zone)
	if d.t.Day() != day { // the 31st of a month of 30 days
		return d, errDTM
	}
	d.digits, d.frac = len(whole), frac
	return d, nil
}

// last is the last instant d stands for: 2026-11 is until the end of
// November.
func (d dtm) last() time.Time {
	switch d.digits {
	case 4:
		return d.t.AddDate(1, 0, 0).Add(-time.Nanosecond)
	case 6:
		return d.t.AddDate(0, 1, 0).Add(-time.Nanosecond)
	case 8:
		return d.t.AddDate(0, 0, 1).Add(-time.Nanosecond)
	case 10:
		return d.t.Add(time.Hour - time.Nanosecond)
	case 12:
		return d.t.Add(time.Minute - time.Nanosecond)
	}
	return d.t.Add(time.Second - time.Nanosecond)
}

// date is the FHIR date of d's precision, down to the day.
func (d dtm) date() string {
	switch {
	case d.digits == 4:
		return d.t.Format("2006")
	case d.digits == 6:
		return d.t.Format("2006-01")
	default:
		return d.t.Format("2006-01-02")
	}
}

// dateTime is the FHIR dateTime: a date when d has no time, else the time
// to the second (or its fraction) with its offset.
func (d dtm) dateTime() string {
	if d.digits <= 8 {
		return d.date()
	}
	s := d.t.Format("2006-01-02T15:04:05")
	if d.frac != "" {
		s += "." + d.frac
	}
	return s + d.t.Format("Z07:00")
}
