package web

import (
	"regexp"
	"strings"
)

// The medication line reads in one fixed order, whatever the data's:
// drug (with its strength and form), dose, route, frequency, duration,
// then instructions — "amoxicillin 500 mg capsule — 1 capsule by mouth
// three times a day for 7 days". A dosage without structure is shown as
// its text.

// tallMan writes look-alike drug names with Tall Man lettering (ISMP, FDA).
var tallMan = strings.NewReplacer(
	"hydroxyzine", "hydrOXYzine", "Hydroxyzine", "hydrOXYzine",
	"hydralazine", "hydrALAZINE", "Hydralazine", "hydrALAZINE",
	"hydromorphone", "HYDROmorphone", "Hydromorphone", "HYDROmorphone",
	"oxycodone", "oxyCODONE", "Oxycodone", "oxyCODONE",
	"oxycontin", "OxyCONTIN", "OxyContin", "OxyCONTIN",
	"glipizide", "glipiZIDE", "Glipizide", "glipiZIDE",
	"glyburide", "glyBURIDE", "Glyburide", "glyBURIDE",
	"prednisone", "predniSONE", "Prednisone", "predniSONE",
	"prednisolone", "prednisoLONE", "Prednisolone", "prednisoLONE",
	"cyclosporine", "cycloSPORINE", "Cyclosporine", "cycloSPORINE",
	"bupropion", "buPROPion", "Bupropion", "buPROPion",
	"clonazepam", "clonazePAM", "Clonazepam", "clonazePAM",
	"clonidine", "cloNIDine", "Clonidine", "cloNIDine",
	"metformin", "metFORMIN", "Metformin", "metFORMIN",
	"nicardipine", "niCARdipine", "Nicardipine", "niCARdipine",
	"nifedipine", "NIFEdipine", "Nifedipine", "NIFEdipine",
	"risperidone", "risperiDONE", "Risperidone", "risperiDONE",
	"ropinirole", "rOPINIRole", "Ropinirole", "rOPINIRole",
)

// rxUnits lowers the capitals of RxNorm's names (220 MG Oral Tablet →
// 220 mg Oral Tablet) and spells the units that are misread.
var rxUnits = regexp.MustCompile(`\b(MG|ML|MCG|UNT|HR|ACTUAT)\b`)

func drugName(s string) string {
	s = rxUnits.ReplaceAllStringFunc(s, func(u string) string {
		switch u {
		case "ML":
			return "mL"
		case "UNT":
			return "units"
		case "HR":
			return "hr"
		case "ACTUAT":
			return "actuation"
		}
		return strings.ToLower(u)
	})
	return tallMan.Replace(s)
}

// medicationLine is a MedicationRequest as one line.
func (l *Locale) medicationLine(m map[string]any) string {
	drug := drugName(conceptText(m["medication"]))
	if drug == "" {
		if ref, _ := m["medication"].(map[string]any); ref != nil {
			if r, _ := ref["reference"].(map[string]any); r != nil {
				drug = drugName(str(r, "display"))
			}
		}
	}
	if drug == "" {
		drug = l.T("value.unknown")
	}
	dosages, _ := m["dosageInstruction"].([]any)
	var parts []string
	for _, x := range dosages {
		if d, _ := x.(map[string]any); d != nil {
			if s := l.dosageText(d, drug); s != "" {
				parts = append(parts, s)
			}
		}
	}
	if len(parts) == 0 {
		return drug
	}
	return drug + " — " + strings.Join(parts, "; ")
}

// dosageText is a Dosage in the fixed order dose, route, frequency,
// duration, instructions; its text when it has no structured dose or
// timing.
func (l *Locale) dosageText(d map[string]any, drug string) string {
	dose := ""
	if drs, _ := d["doseAndRate"].([]any); len(drs) > 0 {
		dr, _ := drs[0].(map[string]any)
		if q, ok := dr["doseQuantity"]; ok {
			dose = l.quantityText(q)
		} else if rg, _ := dr["doseRange"].(map[string]any); rg != nil {
			dose = l.quantityText(rg["low"]) + "–" + l.quantityText(rg["high"])
		}
	}
	if q, _ := d["doseAndRate"].([]any); dose != "" && len(q) > 0 && !strings.Contains(dose, " ") {
		if form := doseFormOf(drug); form != "" {
			dose += " " + form // "1" alone: 1 of what? the drug's form says
		}
	}
	timing, _ := d["timing"].(map[string]any)
	freq, duration := l.timingText(timing)
	if dose == "" && freq == "" {
		if t := str(d, "text"); t != "" {
			return t
		}
	}
	var out []string
	add := func(s string) {
		if s != "" {
			out = append(out, s)
		}
	}
	add(dose)
	if route := conceptText(d["route"]); route != "" {
		add(strings.ToLower(route))
	}
	add(freq)
	add(duration)
	if b, _ := d["asNeededBoolean"].(bool); b {
		add(l.T("med.as-needed"))
	} else if c := conceptText(d["asNeededFor"]); c != "" {
		add(l.T("med.as-needed-for", c))
	}
	var instructions []string
	for _, x := range asList(d["additionalInstruction"]) {
		if t := conceptText(x); t != "" {
			instructions = append(instructions, t)
		}
	}
	if t := str(d, "patientInstruction"); t != "" {
		instructions = append(instructions, t)
	}
	if len(out) == 0 && len(instructions) == 0 {
		return str(d, "text")
	}
	line := strings.Join(out, " ")
	if len(instructions) > 0 {
		if line != "" {
			line += ". "
		}
		line += strings.Join(instructions, ". ")
	}
	return line
}

// doseForms are the dose forms a unitless dose counts, as they end a
// drug's name (RxNorm: "Alendronic acid 10 MG Oral Tablet").
var doseForms = []string{"tablet", "capsule", "patch", "suppository", "lozenge", "puff"}

// doseFormOf returns the dose form a drug's name ends with ("" when none).
func doseFormOf(drug string) string {
	lower := strings.ToLower(drug)
	for _, f := range doseForms {
		if strings.HasSuffix(lower, f) {
			return f
		}
	}
	return ""
}

func asList(v any) []any { list, _ := v.([]any); return list }

// timingText words a Timing: "three times a day", "every 8 hours",
// "every other day", and its bounds as "for 7 days".
func (l *Locale) timingText(t map[string]any) (freq, duration string) {
	if t == nil {
		return "", ""
	}
	rep, _ := t["repeat"].(map[string]any)
	if rep == nil {
		return conceptText(t["code"]), ""
	}
	if b, _ := rep["boundsDuration"].(map[string]any); b != nil {
		if n, ok := numberText(b["value"]); ok {
			duration = l.T("med.for", l.Plural("unit."+unitKey(b), n))
		}
	}
	f, _ := numberOf(rep["frequency"])
	period, _ := numberOf(rep["period"])
	unit := str(rep, "periodUnit")
	if f == 0 {
		f = 1
	}
	if period == 0 {
		return conceptText(t["code"]), duration
	}
	fs, _ := numberText(rep["frequency"])
	ps, _ := numberText(rep["period"])
	switch {
	case unit == "d" && period == 1 && f <= 4:
		freq = l.T("med.daily-" + fs)
	case unit == "d" && period == 1:
		freq = l.T("med.times-a-day", l.Decimal(fs))
	case unit == "d" && period == 2 && f == 1:
		freq = l.T("med.every-other-day")
	case unit == "h" && f == 1:
		freq = l.Plural("med.every-hours", ps)
	case unit == "wk" && period == 1 && f == 1:
		freq = l.T("med.weekly")
	case f == 1:
		freq = l.T("med.every", l.Plural("unit."+periodUnitKey(unit), ps))
	default:
		freq = l.T("med.times-every", l.Decimal(fs), l.Plural("unit."+periodUnitKey(unit), ps))
	}
	return freq, duration
}

// unitKey is the catalog word of a Duration's time unit.
func unitKey(q map[string]any) string {
	code := str(q, "code")
	if code == "" {
		code = str(q, "unit")
	}
	return periodUnitKey(code)
}

func periodUnitKey(code string) string {
	switch code {
	case "s", "min", "h", "d", "wk", "mo", "a":
		return code
	case "day", "days":
		return "d"
	case "week", "weeks":
		return "wk"
	}
	return "d"
}
