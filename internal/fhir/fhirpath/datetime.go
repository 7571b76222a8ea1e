package fhirpath

import (
	"fmt"
	"strings"
	"time"
)

// Precision of a date, dateTime or time value.
const (
	precYear = iota + 1
	precMonth
	precDay
	precHour
	precMinute
	precSecond
	precMilli
)

// Kind of a DateTime value.
const (
	KindDate = iota + 1
	KindDateTime
	KindTime
)

// DateTime is a FHIRPath Date, DateTime or Time with partial precision.
// Unknown components are zero; for a Time, Year..Day are unused.
type DateTime struct {
	Kind                                   int
	Year, Month, Day, Hour, Minute, Second int
	Millis                                 int // milliseconds
	Prec                                   int // precYear..precMilli
	HasTZ                                  bool
	TZOffset                               int // minutes east of UTC
}

func digits(s string, n int) (int, bool) {
	if len(s) < n {
		return 0, false
	}
	v := 0
	for i := 0; i < n; i++ {
		if !isDigit(s[i]) {
			return 0, false
		}
		v = v*10 + int(s[i]-'0')
	}
	return v, true
}

var errBadDate = fmt.Errorf("invalid date/time")

// parseDateTime reads an ISO 8601 date, dateTime (kind KindDateTime, which
// may stop at any precision) or time (kind KindTime, without the leading T).
// A trailing "T" after a date makes it a dateTime of day precision.
func parseDateTime(s string, kind int) (DateTime, error) {
	d := DateTime{Kind: kind}
	var ok bool
	if kind != KindTime {
		if d.Year, ok = digits(s, 4); !ok {
			return d, errBadDate
		}
		d.Prec, s = precYear, s[4:]
		if strings.HasPrefix(s, "-") {
			if d.Month, ok = digits(s[1:], 2); !ok || d.Month < 1 || d.Month > 12 {
				return d, errBadDate
			}
			d.Prec, s = precMonth, s[3:]
			if strings.HasPrefix(s, "-") {
				if d.Day, ok = digits(s[1:], 2); !ok || d.Day < 1 || d.Day > daysIn(d.Year, d.Month) {
					return d, errBadDate
				}
				d.Prec, s = precDay, s[3:]
			}
		}
		if s == "" {
			return d, nil
		}
		if s[0] != 'T' || kind == KindDate {
			return d, errBadDate
		}
		s = s[1:]
		if s == "" {
			return d, nil
		}
	}
	if d.Hour, ok = digits(s, 2); !ok || d.Hour > 23 {
		return d, errBadDate
	}
	d.Prec, s = precHour, s[2:]
	if strings.HasPrefix(s, ":") {
		if d.Minute, ok = digits(s[1:], 2); !ok || d.Minute > 59 {
			return d, errBadDate
		}
		d.Prec, s = precMinute, s[3:]
		if strings.HasPrefix(s, ":") {
			if d.Second, ok = digits(s[1:], 2); !ok || d.Second > 59 {
				return d, errBadDate
			}
			d.Prec, s = precSecond, s[3:]
			if strings.HasPrefix(s, ".") {
				n := 1
				for n < len(s) && isDigit(s[n]) {
					n++
				}
				if n == 1 {
					return d, errBadDate
				}
				frac := (s[1:n] + "000")[:3]
				d.Millis, _ = digits(frac, 3)
				d.Prec, s = precMilli, s[n:]
			}
		}
	}
	if s == "" {
		return d, nil
	}
	if kind == KindTime {
		return d, errBadDate
	}
	if s == "Z" {
		d.HasTZ = true
		return d, nil
	}
	if (s[0] == '+' || s[0] == '-') && len(s) == 6 && s[3] == ':' {
		h, ok1 := digits(s[1:], 2)
		m, ok2 := digits(s[4:], 2)
		if !ok1 || !ok2 || h > 14 || m > 59 {
			return d, errBadDate
		}
		d.HasTZ, d.TZOffset = true, h*60+m
		if s[0] == '-' {
			d.TZOffset = -d.TZOffset
		}
		return d, nil
	}
	return d, errBadDate
}

func daysIn(year, month int) int {
	return time.Date(year, time.Month(month)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// parseDateLiteral reads the text after '@' of a FHIRPath literal.
func parseDateLiteral(s string) (Node, error) {
	if strings.HasPrefix(s, "T") {
		d, err := parseDateTime(s[1:], KindTime)
		return Node{Value: d, Type: TypeTime, Index: -1}, err
	}
	if strings.Contains(s, "T") {
		d, err := parseDateTime(s, KindDateTime)
		return Node{Value: d, Type: TypeDateTime, Index: -1}, err
	}
	d, err := parseDateTime(s, KindDate)
	return Node{Value: d, Type: TypeDate, Index: -1}, err
}

func (d DateTime) String() string {
	var b strings.Builder
	if d.Kind != KindTime {
		fmt.Fprintf(&b, "%04d", d.Year)
		if d.Prec >= precMonth {
			fmt.Fprintf(&b, "-%02d", d.Month)
		}
		if d.Prec >= precDay {
			fmt.Fprintf(&b, "-%02d", d.Day)
		}
		if d.Prec < precHour {
			return b.String()
		}
		b.WriteByte('T')
	}
	fmt.Fprintf(&b, "%02d", d.Hour)
	if d.Prec >= precMinute {
		fmt.Fprintf(&b, ":%02d", d.Minute)
	}
	if d.Prec >= precSecond {
		fmt.Fprintf(&b, ":%02d", d.Second)
	}
	if d.Prec >= precMilli {
		fmt.Fprintf(&b, ".%03d", d.Millis)
	}
	if d.HasTZ {
		if d.TZOffset == 0 {
			b.WriteByte('Z')
		} else {
			off, sign := d.TZOffset, '+'
			if off < 0 {
				off, sign = -off, '-'
			}
			fmt.Fprintf(&b, "%c%02d:%02d", sign, off/60, off%60)
		}
	}
	return b.String()
}

// toTime returns the instant of d's known components.
func (d DateTime) toTime() time.Time {
	loc := time.UTC
	if d.HasTZ && d.TZOffset != 0 {
		loc = time.FixedZone("", d.TZOffset*60)
	}
	y, m, day := d.Year, d.Month, d.Day
	if d.Kind == KindTime {
		y, m, day = 2000, 1, 1
	}
	if m == 0 {
		m = 1
	}
	if day == 0 {
		day = 1
	}
	return time.Date(y, time.Month(m), day, d.Hour, d.Minute, d.Second, d.Millis*1e6, loc)
}

// normalized returns d's components in UTC when it has a timezone and at
// least hour precision, so that values with different offsets compare.
func (d DateTime) normalized() DateTime {
	if !d.HasTZ || d.TZOffset == 0 || d.Prec < precHour || d.Kind == KindTime {
		return d
	}
	t := d.toTime().UTC()
	n := d
	n.Year, n.Month, n.Day, n.Hour, n.Minute = t.Year(), int(t.Month()), t.Day(), t.Hour(), t.Minute()
	n.TZOffset = 0
	return n
}

// compareDateTime orders a and b. ok is false when the answer is unknown
// because the values stop at different precisions and agree up to the
// shorter one. Seconds and milliseconds count as one precision.
func compareDateTime(a, b DateTime) (c int, ok bool) {
	if (a.Kind == KindTime) != (b.Kind == KindTime) {
		return 0, false
	}
	if a.HasTZ != b.HasTZ && min(a.Prec, b.Prec) >= precHour {
		return 0, false // one offset is unknown
	}
	a, b = a.normalized(), b.normalized()
	pa, pb := a.Prec, b.Prec
	if pa == precMilli {
		pa = precSecond
	}
	if pb == precMilli {
		pb = precSecond
	}
	start := precYear
	if a.Kind == KindTime {
		start = precHour
	}
	fa := [...]int{0, a.Year, a.Month, a.Day, a.Hour, a.Minute, a.Second*1000 + a.Millis}
	fb := [...]int{0, b.Year, b.Month, b.Day, b.Hour, b.Minute, b.Second*1000 + b.Millis}
	for p := start; p <= min(pa, pb); p++ {
		if fa[p] != fb[p] {
			if fa[p] < fb[p] {
				return -1, true
			}
			return 1, true
		}
	}
	if pa != pb {
		return 0, false
	}
	return 0, true
}

// addDuration adds n units of a calendar unit (year, month, week, day,
// hour, minute, second, millisecond) to d, keeping d's precision.
func addDuration(d DateTime, n int64, unit string) (DateTime, error) {
	if n > 1e7 || n < -1e7 {
		return d, fmt.Errorf("duration out of range")
	}
	k := int(n)
	r := d
	switch unit {
	case "year":
		r.Year += k
		r.Day = min(r.Day, maxDay(r))
	case "month":
		m := r.Year*12 + (r.Month - 1) + k
		if r.Prec < precMonth {
			m = r.Year*12 + k/12*12
		}
		r.Year, r.Month = m/12, m%12+1
		if d.Prec < precMonth {
			r.Month = 0
		}
		r.Day = min(r.Day, maxDay(r))
	default:
		var step time.Duration
		switch unit {
		case "week":
			step = 7 * 24 * time.Hour
		case "day":
			step = 24 * time.Hour
		case "hour":
			step = time.Hour
		case "minute":
			step = time.Minute
		case "second":
			step = time.Second
		case "millisecond":
			step = time.Millisecond
		default:
			return d, fmt.Errorf("cannot add %s to a date/time", unit)
		}
		t := d.toTime().Add(step * time.Duration(k))
		if d.HasTZ && d.TZOffset != 0 {
			t = t.In(time.FixedZone("", d.TZOffset*60))
		}
		r.Year, r.Month, r.Day = t.Year(), int(t.Month()), t.Day()
		r.Hour, r.Minute, r.Second, r.Millis = t.Hour(), t.Minute(), t.Second(), t.Nanosecond()/1e6
		r = r.truncate(d.Prec)
	}
	if r.Year < 1 || r.Year > 9999 {
		return d, fmt.Errorf("date out of range")
	}
	return r, nil
}

func maxDay(d DateTime) int {
	if d.Month == 0 {
		return 31
	}
	return daysIn(d.Year, d.Month)
}

// truncate clears components beyond precision p.
func (d DateTime) truncate(p int) DateTime {
	fields := []*int{nil, &d.Year, &d.Month, &d.Day, &d.Hour, &d.Minute, &d.Second, &d.Millis}
	for i := p + 1; i < len(fields); i++ {
		*fields[i] = 0
	}
	d.Prec = p
	return d
}
