package mpi

// Person is a Patient reduced to the normalised facts that matching uses.
// Build it with FromPatient; the zero value is a person about whom nothing
// is known, and it matches nothing.
type Person struct {
	// ID is the Patient's logical id, carried for the caller.
	ID string

	// Given holds the folded given names of all names, the official or
	// first name's first, each token separately (JOSE, MARIA for
	// "José María"); German and Nordic letters add their spelled-out form
	// (JURGEN and JUERGEN). Vietnamese gender middle names (VAN, THI) are
	// kept last because they say little about who someone is.
	Given []string
	// Family holds the current family names whole, particles and
	// separators removed from inside (VANDERBERG, GARCIALOPEZ, ALHASSAN).
	Family []string
	// FamilyParts holds the parts of hyphenated and compound current family
	// names without particles (GARCIA, LOPEZ; BERG; HASSAN), so that a
	// partly given compound name still agrees partially.
	FamilyParts []string
	// Former holds maiden and old family names, whole and in parts.
	Former []string

	// BirthYear, BirthMonth and BirthDay are zero when unknown; Precision
	// says how much of the date was given: 0 none, 1 year, 2 month, 3 day.
	BirthYear, BirthMonth, BirthDay int
	BirthPrecision                  int

	// Gender is the administrative gender code, "" when unknown; "unknown"
	// and "other" are kept as written and only agree with themselves.
	Gender string

	// Identifiers are "system|VALUE" with the value upper-cased and spaces
	// and dashes removed, so 123-45-6789 equals 123 45 6789.
	Identifiers []string
	// Phones are the last ten digits (or all, if fewer), so a country
	// prefix and punctuation do not matter.
	Phones []string
	// Emails are lower-cased and trimmed.
	Emails []string
	// Postcodes are upper-cased without spaces.
	Postcodes []string
	// Lines are folded address lines with common words abbreviated
	// (STREET→ST, ROAD→RD …) and the city appended, one per address.
	Lines []string

	// givenAlt[i] is the spelled-out German form of Given[i] ("" if none);
	// the sound keys cache phonetic(): comparisons run millions of times.
	givenAlt    []string
	givenSound  []string
	familySound []string
}

// birthKey formats the known part of the birth date, "" when unknown.
func (p *Person) birthKey() string {
	switch p.BirthPrecision {
	case 3:
		return itoa4(p.BirthYear) + "-" + itoa2(p.BirthMonth) + "-" + itoa2(p.BirthDay)
	case 2:
		return itoa4(p.BirthYear) + "-" + itoa2(p.BirthMonth)
	case 1:
		return itoa4(p.BirthYear)
	}
	return ""
}

func itoa4(n int) string {
	return string([]byte{byte('0' + n/1000%10), byte('0' + n/100%10), byte('0' + n/10%10), byte('0' + n%10)})
}

func itoa2(n int) string { return string([]byte{byte('0' + n/10%10), byte('0' + n%10)}) }

// setBirthDate reads a FHIR date of any precision ("1980", "1980-03",
// "1980-03-04", or a dateTime, whose date part is used). Anything that is
// not a plausible date leaves the birth date unknown rather than wrong.
func (p *Person) setBirthDate(s string) {
	num := func(s string) (int, bool) {
		n := 0
		for i := 0; i < len(s); i++ {
			if s[i] < '0' || s[i] > '9' {
				return 0, false
			}
			n = n*10 + int(s[i]-'0')
		}
		return n, s != ""
	}
	if len(s) < 4 {
		return
	}
	y, ok := num(s[:4])
	if !ok || y < 1000 {
		return
	}
	p.BirthYear, p.BirthPrecision = y, 1
	if len(s) < 7 || s[4] != '-' {
		return
	}
	m, ok := num(s[5:7])
	if !ok || m < 1 || m > 12 {
		return
	}
	p.BirthMonth, p.BirthPrecision = m, 2
	if len(s) < 10 || s[7] != '-' {
		return
	}
	d, ok := num(s[8:10])
	if !ok || d < 1 || d > 31 {
		return
	}
	p.BirthDay, p.BirthPrecision = d, 3
}
