package web

// input is one labelled form control as the registration template draws
// it: the label (with "required" in words), a hint, the error next to the
// field, and the value as typed.
type input struct {
	F                                 field
	Label, Hint, Required, Type, Auto string
}

func (d *regData) input(f field, labelKey, hintKey string, required bool) input {
	in := input{F: f, Label: d.l.T(labelKey), Type: "text"}
	if hintKey != "" {
		in.Hint = d.l.T(hintKey)
	}
	if required {
		in.Required = d.l.T("reg.required")
	}
	return in
}

// In is the text input key, labelled reg.label.<key>, with the hint
// reg.hint.<key> when the catalog has one; typ is the input type and
// auto its autocomplete token.
func (d *regData) In(key string, required bool, typ, auto string) input {
	in := d.input(d.F(key), "reg.label."+key, d.hintKey(key), required)
	in.Type, in.Auto = typ, auto
	return in
}

// RowIn is the text input prefix-i of a name or identifier row.
func (d *regData) RowIn(prefix string, i int, required bool) input {
	return d.input(d.Row(prefix, i), "reg.label."+prefix, d.hintKey(prefix), required)
}

// Sel is the select key of the codes of kind (see Choice).
func (d *regData) Sel(key, kind, empty string, required bool) input {
	return d.input(d.Choice(key, kind, empty), "reg.label."+key, d.hintKey(key), required)
}

// RowSel is the select prefix-i of the codes of kind.
func (d *regData) RowSel(prefix string, i int, kind, empty string, required bool) input {
	return d.input(d.Choice(rowKey(prefix, i), kind, empty), "reg.label."+prefix, d.hintKey(prefix), required)
}

func (d *regData) hintKey(key string) string {
	if Locales[0].Has("reg.hint." + key) {
		return "reg.hint." + key
	}
	return ""
}

// N is i counted from one, for "Name 2".
func (d *regData) N(i int) int { return i + 1 }

// summaryItem is one line of the error summary: a link to the field.
type summaryItem struct {
	Href, Text string
}

// Summary lists the errors for the top of the form, each linking to its
// field.
func (d *regData) Summary() []summaryItem {
	out := make([]summaryItem, 0, len(d.Errors))
	for _, e := range d.Errors {
		if e.Field == "" {
			out = append(out, summaryItem{Text: e.Message})
			continue
		}
		out = append(out, summaryItem{Href: "#" + e.Field, Text: fieldLabel(d.l, e.Field) + ": " + e.Message})
	}
	return out
}

// General are the errors that belong to no field.
func (d *regData) General() []string {
	var out []string
	for _, e := range d.Errors {
		if e.Field == "" {
			out = append(out, e.Message)
		}
	}
	return out
}

// displayValue is a form value as the user reads it: a code's words.
func displayValue(l *Locale, key, value string) string {
	if value == "" {
		return l.T("value.unknown")
	}
	prefix := key
	if i := lastDash(key); i > 0 && onlyDigits(key[i+1:]) == key[i+1:] {
		prefix = key[:i]
	}
	catalog := map[string]string{"gender": "sex.", "gender-identity": "reg.identity.", "id-type": "reg.idtype.", "language": "reg.language.",
		"contact-relationship": "reg.relationship.", "name-use": "reg.use."}[prefix]
	if catalog != "" && l.Has(catalog+value) || catalog != "" && Locales[0].Has(catalog+value) {
		return l.T(catalog + value)
	}
	return value
}

func lastDash(s string) int {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '-' {
			return i
		}
	}
	return -1
}
