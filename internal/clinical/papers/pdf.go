package papers

import (
	"fmt"
	"io"
	"strings"
	"time"

	"codeberg.org/go-pdf/fpdf"
)

// page is one paper being written: fpdf with the layout of these papers
// (A4, millimetres, Helvetica) and the text passed through latinText.
type page struct {
	pdf  *fpdf.Fpdf
	tr   func(string) string
	lost bool // some character was printed as "?"
}

const (
	margin    = 18.0
	bodyWidth = 210 - 2*margin
	lineH     = 5.5
)

// options are the writer's settings; tests turn compression off to read
// the text back without a PDF tool.
type options struct{ compress bool }

func newPage(title string, date time.Time, o options) *page {
	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.SetMargins(margin, margin, margin)
	pdf.SetAutoPageBreak(true, margin+8)
	pdf.SetCompression(o.compress)
	// A fixed creation date makes the same paper the same bytes.
	pdf.SetCreationDate(date)
	pdf.SetModificationDate(date)
	pdf.SetCatalogSort(true)
	pdf.SetTitle(title, true)
	pdf.AliasNbPages("{nb}")
	p := &page{pdf: pdf, tr: pdf.UnicodeTranslatorFromDescriptor("")}
	pdf.SetFooterFunc(func() {
		pdf.SetY(-margin)
		pdf.SetFont("Helvetica", "", 8)
		pdf.CellFormat(0, 4, p.text(title)+fmt.Sprintf(" - page %d of {nb}", pdf.PageNo()), "", 0, "C", false, 0, "")
	})
	pdf.AddPage()
	return p
}

// text prepares s for the core font: transliterated to Windows-1252, then
// encoded as fpdf expects.
func (p *page) text(s string) string {
	t, lost := latinText(s)
	p.lost = p.lost || lost
	return p.tr(t)
}

func (p *page) font(style string, size float64) { p.pdf.SetFont("Helvetica", style, size) }

func (p *page) heading(s string) {
	p.font("B", 16)
	p.pdf.CellFormat(bodyWidth, 9, p.text(s), "", 1, "L", false, 0, "")
	p.pdf.Ln(1)
}

func (p *page) section(s string) {
	p.pdf.Ln(2)
	p.font("B", 11)
	p.pdf.CellFormat(bodyWidth, 6, p.text(s), "B", 1, "L", false, 0, "")
	p.pdf.Ln(1)
}

// field prints a label and its value on one line (wrapping the value).
// Values are bold: more prominent than their labels, as the UI guide asks.
func (p *page) field(label, value string) {
	if value == "" {
		value = "Not known"
	}
	p.font("", 10)
	p.pdf.CellFormat(40, lineH, p.text(label), "", 0, "L", false, 0, "")
	p.font("B", 10)
	p.pdf.MultiCell(bodyWidth-40, lineH, p.text(value), "", "L", false)
}

func (p *page) para(style, s string) {
	p.font(style, 10)
	p.pdf.MultiCell(bodyWidth, lineH, p.text(s), "", "L", false)
}

// patient prints the two identifiers a paper needs (name and birth date,
// and the MRN) at the top.
func (p *page) patient(pt Patient) {
	p.section("Patient")
	p.field("Name", pt.Name)
	p.field("Date of birth", pt.BirthDate)
	if pt.Sex != "" {
		p.field("Sex", pt.Sex)
	}
	for _, id := range pt.Identifiers {
		p.field(id.Label, id.Value)
	}
	if pt.Address != "" {
		p.field("Address", pt.Address)
	}
}

func (p *page) clinician(role string, c Clinician) {
	p.section(role)
	name := c.Name
	if c.Qualification != "" {
		name += ", " + c.Qualification
	}
	p.field("Name", name)
	if c.Identifier.Value != "" {
		p.field(c.Identifier.Label, c.Identifier.Value)
	}
	for _, f := range []Reading{{"Organisation", c.Organization}, {"Address", c.Address}, {"Telephone", c.Phone}} {
		if f.Value != "" {
			p.field(f.Label, f.Value)
		}
	}
}

// signature prints the signature line with the signer's name and the date.
func (p *page) signature(name string, date time.Time) {
	p.pdf.Ln(12)
	p.font("", 10)
	y := p.pdf.GetY() + lineH
	p.pdf.CellFormat(25, lineH, "Signature", "", 0, "L", false, 0, "")
	p.pdf.Line(margin+25, y, margin+110, y)
	p.pdf.SetX(margin + 115)
	p.pdf.CellFormat(0, lineH, "Date "+dateText(date), "", 1, "L", false, 0, "")
	p.pdf.Ln(1)
	p.pdf.CellFormat(0, lineH, p.text(name), "", 1, "L", false, 0, "")
}

// finish adds the replaced-characters notice when needed and writes the PDF.
func (p *page) finish(w io.Writer) error {
	if p.lost {
		p.pdf.Ln(4)
		p.para("I", "Some characters could not be printed with this font and are shown as \"?\". Check the patient against the identifiers above, not the name alone.")
	}
	if err := p.pdf.Error(); err != nil {
		return fmt.Errorf("papers: %w", err)
	}
	if err := p.pdf.Output(w); err != nil {
		return fmt.Errorf("papers: write: %w", err)
	}
	return nil
}

// dateText writes a date the UI guide's way: 23-Nov-2026.
func dateText(t time.Time) string {
	if t.IsZero() {
		return "Not known"
	}
	return t.Format("02-Jan-2006")
}

func joinNonEmpty(sep string, parts ...string) string {
	var out []string
	for _, s := range parts {
		if strings.TrimSpace(s) != "" {
			out = append(out, s)
		}
	}
	return strings.Join(out, sep)
}
