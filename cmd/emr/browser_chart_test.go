package main

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// The flows of the chart in a real browser: registering a patient who
// may already be registered, reading a result's trend, adding and viewing
// documents, and breaking the glass into a restricted record. The data
// they need is put through the FHIR API, as a feed would.

// choose picks the option whose text is option in the <select> label
// names, as a person picks from the list.
func (b *browser) choose(label, option string) {
	b.t.Helper()
	expr := fmt.Sprintf(`(() => {
		const sel = document.evaluate(%s, document, null, XPathResult.FIRST_ORDERED_NODE_TYPE, null).singleNodeValue;
		if (!sel) return "no field";
		const opt = Array.from(sel.options).find(o => o.text.trim() === %s);
		if (!opt) return "no option; there are: " + Array.from(sel.options, o => o.text).join(" | ");
		sel.value = opt.value;
		sel.dispatchEvent(new Event("change", {bubbles: true}));
		return "";
	})()`, jsString(field(label)), jsString(option))
	if problem := eval[string](b, expr); problem != "" {
		b.t.Fatalf("choosing %q in %s: %s (at %s)", option, label, problem, b.location())
	}
}

// attach sets the file of the file field label names.
func (b *browser) attach(label, path string) {
	b.t.Helper()
	b.do("attaching "+path+" to "+label, chromedp.SetUploadFiles(chromedp.Search(field(label)), []string{path}))
}

// click clicks the element at xpath, named what in a failure, and waits
// for the page it loads.
func (b *browser) click(what, xpath string) {
	b.t.Helper()
	b.waitForPage("clicking "+what, chromedp.Click(chromedp.Search(xpath), chromedp.NodeVisible))
}

// accessibleName is the name a screen reader announces for the element at
// xpath, computed by axe-core as the accessibility tree does (labels,
// aria-labelledby, titles, captions).
func (b *browser) accessibleName(xpath string) string {
	b.t.Helper()
	if !eval[bool](b, `typeof axe !== "undefined"`) {
		eval[chromedp.Void](b, axeSource)
	}
	return eval[string](b, fmt.Sprintf(`(() => {
		const el = document.evaluate(%s, document, null, XPathResult.FIRST_ORDERED_NODE_TYPE, null).singleNodeValue;
		if (!el) return "(no element)";
		axe.setup(document);
		try { return axe.commons.text.accessibleText(el); } finally { axe.teardown(); }
	})()`, jsString(xpath)))
}

// printed returns what expr evaluates to while the page is laid out for
// print (the print stylesheet applies).
func printed[T any](b *browser, expr string) T {
	b.t.Helper()
	media := func(m string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			_, err := cdp.Call(ctx, t, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Media: m})
			return err
		})
	}
	b.do("emulating print", media("print"))
	defer b.do("ending print", media(""))
	return eval[T](b, expr)
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case '\n':
			b.WriteString(`\n`)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// put stores resources through the FHIR API.
func put(t *testing.T, s *server, resources ...string) {
	t.Helper()
	for _, res := range resources {
		m := regexp.MustCompile(`"resourceType":"(\w+)","id":"([\w-]+)"`).FindStringSubmatch(res)
		if m == nil {
			t.Fatalf("no type and id in %.80s", res)
		}
		if status, _, doc := call(t, "PUT", s.base+"/"+m[1]+"/"+m[2], fhirJSON, res); status != http.StatusCreated && status != http.StatusOK {
			t.Fatalf("PUT %s/%s: %d %v", m[1], m[2], status, doc)
		}
	}
}

// observation is a laboratory result or a vital sign of Patient/ada.
func observation(id, category, when, code, display, valueAndRange string) string {
	return `{"resourceType":"Observation","id":"` + id + `","status":"final","subject":{"reference":"Patient/ada"},"effectiveDateTime":"` + when + `",` +
		`"category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"` + category + `"}]}],` +
		`"code":{"coding":[{"system":"http://loinc.org","code":"` + code + `","display":"` + display + `"}]},` + valueAndRange + `}`
}

func bloodPressure(id, when string, systolic, diastolic int) string {
	q := func(code string, v int) string {
		return fmt.Sprintf(`{"code":{"coding":[{"system":"http://loinc.org","code":"%s"}]},"valueQuantity":{"value":%d,"unit":"mm[Hg]","system":"http://unitsofmeasure.org","code":"mm[Hg]"}}`, code, v)
	}
	return observation(id, "vital-signs", when, "85354-9", "Blood pressure panel", `"component":[`+q("8480-6", systolic)+","+q("8462-4", diastolic)+"]")
}

func hba1c(id, when, value string) string {
	return observation(id, "laboratory", when, "4548-4", "Hemoglobin A1c",
		`"valueQuantity":{"value":`+value+`,"unit":"%","system":"http://unitsofmeasure.org","code":"%"},"referenceRange":[{"low":{"value":4,"unit":"%"},"high":{"value":5.6,"unit":"%"}}]`)
}

// okafor is the patient the finder finds and a registration duplicates.
const okafor = `{"resourceType":"Patient","id":"p1","identifier":[{"type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0203","code":"MR"}]},"value":"MRN-1001"}],` +
	`"name":[{"family":"Okafor","given":["Chidinma"],"prefix":["Mrs"]}],"gender":"female","birthDate":"1984-03-09",` +
	`"telecom":[{"system":"phone","value":"555-201-3344"}]}`

// adaRecord is a patient with results over years, for the trend.
var adaRecord = []string{
	`{"resourceType":"Patient","id":"ada","identifier":[{"type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0203","code":"MR"}]},"value":"MRN-2002"}],` +
		`"name":[{"family":"Lovelace","given":["Ada"]}],"gender":"female","birthDate":"1965-12-10"}`,
	hba1c("a1c-1", "2019-02-01T08:00:00Z", "6.1"),
	hba1c("a1c-2", "2023-06-15T08:00:00Z", "6.8"),
	hba1c("a1c-3", "2026-09-12T08:00:00Z", "7.4"),
	bloodPressure("bp-1", "2021-03-01T09:30:00Z", 128, 82),
	bloodPressure("bp-2", "2026-10-01T09:30:00Z", 142, 91),
}

// TestBrowserChart: a physician registers a patient who is already
// registered and is shown who she may be; reads the trend of a result and
// of the blood pressure; adds a PDF and a picture to a record and views
// them, and is told plainly when a file is refused; and a physician whom
// a patient's Consent keeps out sees only that the record is restricted,
// breaks the glass with a reason and then sees the chart marked so.
func TestBrowserChart(t *testing.T) {
	skipWithoutBrowser(t)
	dir := t.TempDir()
	s := startServer(t, dir)
	put(t, s, okafor)
	put(t, s, adaRecord...)
	b := newBrowser(t, s)
	b.signIn("doc", addUser(t, dir, "doc", "physician", "--fhir-user", "Practitioner/doc"))

	t.Run("duplicate registration", func(t *testing.T) {
		b.t = t
		register := func(given string) {
			b.visit("/patients/new")
			b.fill("Given names", given)
			b.fill("Family name", "Okafor")
			b.choose("Sex (administrative)", "Female")
			b.fill("Birth date", "9/3/1984")
			b.press("Register the patient")
		}
		register("Chidinma")
		warning := b.see(`//section[@role="alert"][h2[normalize-space(.)="This patient may already be registered"]]`)
		// What was typed and the matcher's candidate, side by side.
		columns := eval[[]string](b, `Array.from(document.querySelectorAll("section.duplicates thead th"), th => th.textContent.trim())`)
		if len(columns) < 3 || columns[1] != "What you typed" {
			t.Errorf("the comparison's columns are %q; want Field, What you typed, then the candidates", columns)
		}
		for _, want := range []string{"OKAFOR, Chidinma", "09-Mar-1984", "MRN-1001", "555-201-3344"} {
			if !strings.Contains(warning, want) {
				t.Errorf("the duplicate warning lacks %q:\n%s", want, warning)
			}
		}
		if loc := b.location(); loc != "/patients" {
			t.Errorf("the duplicate warning is at %s; want the form posted back, nothing created", loc)
		}
		b.check("duplicate-warning")
		// It is the same person: open her chart.
		b.follow("Open this patient: OKAFOR, Chidinma (Mrs)")
		if loc := b.location(); loc != "/patients/p1" {
			t.Errorf("Open this patient went to %s, want /patients/p1", loc)
		}
		b.see(`//section[starts-with(@aria-label, "Chart")][contains(., "MRN-1001")]`)

		// Another time it is someone else with the same name and birth
		// date: register anyway, knowingly.
		register("Chidinma")
		b.see(`//section[@role="alert"]`)
		b.press("This is a different person — register")
		loc := b.location()
		if !strings.HasPrefix(loc, "/patients/") || loc == "/patients/p1" || loc == "/patients" {
			t.Fatalf("registering anyway went to %s; want the new patient's chart", loc)
		}
		banner := b.see(`//section[starts-with(@aria-label, "Chart")]`)
		if !strings.Contains(banner, "OKAFOR, Chidinma") || strings.Contains(banner, "MRN-1001") {
			t.Errorf("the new patient's banner:\n%s", banner)
		}
		b.check("registered-anyway")
	})

	t.Run("critical result", func(t *testing.T) {
		b.t = t
		// A laboratory's critical potassium, written through the API, of
		// a test doc ordered: it asks doc for a review, counted in every
		// page's menu and listed with the patient and the result.
		put(t, s, `{"resourceType":"ServiceRequest","id":"sr-crit","status":"active","intent":"order","subject":{"reference":"Patient/ada"},`+
			`"code":{"concept":{"coding":[{"system":"http://loinc.org","code":"2823-3"}]}},"requester":{"reference":"Practitioner/doc","display":"Dr Doc"}}`)
		put(t, s, observation("k-crit", "laboratory", "2026-11-24T07:30:00Z", "2823-3", "Potassium",
			`"basedOn":[{"reference":"ServiceRequest/sr-crit"}],`+`"valueQuantity":{"value":6.9,"unit":"mmol/L","system":"http://unitsofmeasure.org","code":"mmol/L"},`+
				`"referenceRange":[{"low":{"value":3.5,"unit":"mmol/L"},"high":{"value":5.1,"unit":"mmol/L"}}],`+
				`"interpretation":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation","code":"HH"}]}]`))
		b.visit("/")
		b.follow("Critical results (1 for you)")
		row := b.see(`//table//tr[contains(., "Potassium")]`)
		for _, want := range []string{"LOVELACE, Ada", "6.9 mmol/L", "HH"} {
			if !strings.Contains(row, want) {
				t.Errorf("the row lacks %q:\n%s", want, row)
			}
		}
		b.check("critical-results")
		b.fill("What was done (optional)", "Called Ada: to the emergency department")
		// Each row's button says which result for whom to a screen reader.
		b.click("Acknowledge", `//button[@aria-label="Acknowledge Potassium for LOVELACE, Ada"]`)
		b.see(`//p[@role="status"][contains(., "Acknowledged")]`)
		b.see(`//p[contains(., "No critical result waits to be acknowledged.")]`)
		b.check("critical-results-done")
	})

	t.Run("result trend", func(t *testing.T) {
		b.t = t
		b.visit("/patients/ada")
		b.follow("Hemoglobin A1c")
		// HbA1c is one analyte whichever of its codes a laboratory sends.
		if name := b.accessibleName(`//*[local-name()="svg"][@role="img"]`); name != "HbA1c over time" {
			t.Errorf("the chart is announced as %q, want %q", name, "HbA1c over time")
		}
		caption := b.see(`//table/caption`)
		if caption != "HbA1c: every value, newest first" {
			t.Errorf("the values table's caption is %q", caption)
		}
		values := eval[[]string](b, `Array.from(document.querySelectorAll("table.trend-table tbody tr"), tr => tr.innerText.replace(/\s+/g, " ").trim())`)
		want := [][2]string{{"12-Sep-2026", "7.4"}, {"15-Jun-2023", "6.8"}, {"01-Feb-2019", "6.1"}}
		if len(values) != len(want) {
			t.Fatalf("the values table has rows %q; want %d, newest first", values, len(want))
		}
		for i, w := range want {
			if !strings.HasPrefix(values[i], w[0]) || !strings.Contains(values[i], " "+w[1]+" %") {
				t.Errorf("row %d is %q; want %s with %s %%", i+1, values[i], w[0], w[1])
			}
		}
		// Three points and a reference band are drawn, each with its words.
		if n := eval[int](b, `document.querySelectorAll("svg.trend circle title").length`); n != 3 {
			t.Errorf("%d points drawn with a title, want 3", n)
		}
		b.see(`//p[contains(., "Reference range")][contains(., "(shaded band)")]`)
		b.check("trend-hba1c")

		// The blood pressure, from the summary's vital signs.
		b.visit("/patients/ada")
		b.click("the blood pressure", `//section[@aria-labelledby="vitals"]//tr[th[normalize-space(.)="Blood pressure"]]//a`)
		if name := b.accessibleName(`//*[local-name()="svg"][@role="img"]`); !strings.Contains(name, "over time") {
			t.Errorf("the blood pressure chart is announced as %q", name)
		}
		head := eval[[]string](b, `Array.from(document.querySelectorAll("table.trend-table thead th"), th => th.textContent.trim())`)
		if len(head) != 3 || head[1] != "Systolic" || head[2] != "Diastolic" {
			t.Errorf("the blood pressure table's columns are %q; want the date, systolic and diastolic", head)
		}
		table := b.see(`//table[caption]/tbody`)
		for _, want := range []string{"01-Oct-2026", "142", "91", "01-Mar-2021", "128", "82"} {
			if !strings.Contains(table, want) {
				t.Errorf("the blood pressure table lacks %s:\n%s", want, table)
			}
		}
		// Two lines, told apart by more than colour: a legend names them.
		if legend := eval[string](b, `Array.from(document.querySelectorAll("svg.trend text"), t => t.textContent).join("|")`); !strings.Contains(legend, "Systolic") || !strings.Contains(legend, "Diastolic") {
			t.Errorf("the blood pressure chart's texts are %q; want a legend naming both lines", legend)
		}
		b.check("trend-bp")
		// Printed, the banner is in the flow at the top of the first page,
		// not pinned over the content of every page; the navigation goes,
		// the chart and its table stay.
		print := printed[map[string]string](b, `(() => {
			const shown = el => el ? getComputedStyle(el).display : "missing";
			const banner = document.querySelector("section[aria-label^='Chart']");
			return {banner: getComputedStyle(banner).position, nav: shown(document.querySelector("nav.pnav")),
				svg: shown(document.querySelector("svg.trend")), table: shown(document.querySelector("table.trend-table"))};
		})()`)
		if print["banner"] != "static" || print["nav"] != "none" || print["svg"] == "none" || print["table"] == "none" {
			t.Errorf("printed, the trend page lays out as %v; want the banner static, no navigation, the chart and the table", print)
		}
	})

	t.Run("documents", func(t *testing.T) {
		b.t = t
		files := t.TempDir()
		write := func(name string, content []byte) string {
			path := filepath.Join(files, name)
			if err := os.WriteFile(path, content, 0o644); err != nil {
				t.Fatal(err)
			}
			return path
		}
		pdf := write("referral.pdf", minimalPDF())
		pic := write("rash.png", smallPNG(t))
		exe := write("scan.pdf", append([]byte("MZ\x90\x00\x03"), make([]byte, 200)...))
		big := write("big.pdf", append([]byte("%PDF-1.4\n"), make([]byte, 12<<20)...))

		choose := func(path, kind, title string) {
			b.visit("/patients/ada")
			b.follow("Documents")
			b.attach("File", path)
			b.choose("Kind of document", kind)
			b.fill("Title", title)
		}
		upload := func(path, kind, title string) {
			choose(path, kind, title)
			b.press("Add the document")
		}
		// A file that is not what it claims, and one too large: refused,
		// with the reason beside the form and what was chosen kept.
		upload(exe, "Referral letter", "Scanned referral")
		msg := b.see(`//*[@role="alert"][@id="upload-error"]`)
		if !strings.Contains(msg, "“scan.pdf” is not a PDF, PNG or JPEG file") {
			t.Errorf("an executable named .pdf is refused with %q", msg)
		}
		if v := eval[string](b, `document.getElementById("title").value`); v != "Scanned referral" {
			t.Errorf("after the refusal the title is %q; want what was typed", v)
		}
		if described := eval[string](b, `document.getElementById("file").getAttribute("aria-describedby") || ""`); !strings.Contains(described, "upload-error") {
			t.Errorf("the file field is described by %q; want the error, so a screen reader reads it at the field", described)
		}
		b.check("document-refused")
		// A file too large is told at the field before it is sent (the
		// server's own refusal is tested in internal/web).
		choose(big, "Referral letter", "Large scan")
		eval[chromedp.Void](b, `window.stillHere = true`)
		b.do("pressing Add the document", chromedp.Click(chromedp.Search(`//button[normalize-space(.)="Add the document"]`), chromedp.NodeVisible))
		if msg := b.see(`//*[@role="alert"][@id="upload-error"]`); !strings.Contains(msg, "larger than 10 MB") {
			t.Errorf("a file over 10 MB is refused with %q", msg)
		}
		if !eval[bool](b, `window.stillHere === true`) {
			t.Errorf("a file too large was sent: the page is %s", b.location())
		}
		if focused := eval[string](b, `document.activeElement.id + " " + document.activeElement.getAttribute("aria-describedby")`); focused != "file file-hint upload-error" {
			t.Errorf("after refusing a file too large the focus is on %q; want the file field, described by the error", focused)
		}
		b.check("document-too-large")

		// A PDF: shown in a sandboxed frame, with the way to open it alone.
		upload(pdf, "Referral letter", "Referral from Dr Sen")
		b.see(`//h2[normalize-space(.)="Referral from Dr Sen"]`)
		b.see(`//iframe[@title="Referral from Dr Sen"]`)
		if sandbox := eval[string](b, `String(document.querySelector("iframe.docview").getAttribute("sandbox"))`); sandbox != "" {
			t.Errorf("the PDF's frame has sandbox=%q; want an empty sandbox (no script, no same origin)", sandbox)
		}
		src := eval[string](b, `document.querySelector("iframe.docview").src`)
		status, h, _ := requestRaw(t, b, src)
		if status != http.StatusOK || h.Get("Content-Type") != "application/pdf" || h.Get("X-Content-Type-Options") != "nosniff" ||
			!strings.HasPrefix(h.Get("Content-Security-Policy"), "sandbox") {
			t.Errorf("the PDF is served %d with %v", status, h)
		}
		b.see(`//a[normalize-space(.)="Open the document on its own"]`)
		b.check("document-pdf")

		// A picture: shown as an image, described by its title.
		upload(pic, "Imaging report", "Rash on the left forearm")
		img := `//main//img[@alt="Rash on the left forearm"]`
		b.see(img)
		if w := eval[int](b, `document.querySelector("img.docview").naturalWidth`); w != 40 {
			t.Errorf("the image shows %d px wide; want its 40 px (0: it did not load)", w)
		}
		src = eval[string](b, `document.querySelector("img.docview").src`)
		if status, h, _ := requestRaw(t, b, src); status != http.StatusOK || h.Get("Content-Type") != "image/png" || h.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("the image is served %d with %v", status, h)
		}
		b.check("document-image")

		b.follow("Documents")
		list := b.see(`//table[thead//th[normalize-space(.)="Kind of document"]]/tbody`)
		for _, want := range []string{"Referral from Dr Sen", "Rash on the left forearm", "doc"} {
			if !strings.Contains(list, want) {
				t.Errorf("the documents list lacks %q:\n%s", want, list)
			}
		}
		if strings.Contains(list, "Scanned referral") || strings.Contains(list, "Large scan") {
			t.Errorf("a refused file is listed:\n%s", list)
		}
		b.check("documents")
	})

	t.Run("break-glass", func(t *testing.T) {
		b.t = t
		put(t, s, `{"resourceType":"Consent","id":"ada-optout","status":"active","subject":{"reference":"Patient/ada"},"decision":"deny",`+
			`"provision":[{"actor":[{"reference":{"reference":"Practitioner/family-doctor"}}]}]}`)
		b.press("Sign out")
		b.signIn("locum", addUser(t, dir, "locum", "physician", "--fhir-user", "Practitioner/locum"))
		b.visit("/patients/ada")
		// In Bengali first: the page is in the catalogs too.
		b.visit("/language?lang=bn&next=/patients/ada")
		if lang := eval[string](b, `document.documentElement.lang`); lang != "bn" {
			t.Errorf("the Bengali restricted page has lang %q", lang)
		}
		b.see(`//h1[normalize-space(.)="এই রেকর্ডে প্রবেশাধিকার সীমিত"]`)
		b.check("restricted-bn")
		b.visit("/language?lang=en&next=/patients/ada")
		b.see(`//h1[normalize-space(.)="Access to this record is restricted"]`)
		body := eval[string](b, `document.body.innerText`)
		for _, secret := range []string{"LOVELACE", "Lovelace", "MRN-2002", "10-Dec-1965", "Hemoglobin"} {
			if strings.Contains(body, secret) {
				t.Errorf("the restricted page shows %q", secret)
			}
		}
		b.check("restricted")
		// Too short a note: refused, with what was typed kept.
		b.choose("Reason for emergency access", "Patient unconscious or unable to consent")
		b.fill("What is happening", "help")
		// The browser's own check (minlength) would stop the form; the
		// server's message is the one every browser gets.
		eval[chromedp.Void](b, `document.getElementById("note").removeAttribute("minlength")`)
		b.press("Open the record in an emergency")
		if msg := b.see(`//*[@role="alert"]`); !strings.Contains(msg, "at least 10 characters") {
			t.Errorf("a short reason is refused with %q", msg)
		}
		if described := eval[string](b, `document.getElementById("note").getAttribute("aria-describedby")`); described != "note-hint note-error" {
			t.Errorf("the note is described by %q; want its hint and the error", described)
		}
		if chosen := eval[string](b, `document.getElementById("reason").value`); chosen != "unconscious" {
			t.Errorf("after the refusal the reason is %q; want the one chosen", chosen)
		}
		b.fill("What is happening", " — brought in unconscious after a fall")
		b.press("Open the record in an emergency")
		if loc := b.location(); loc != "/patients/ada" {
			t.Fatalf("after break-glass the page is %s", loc)
		}
		banner := b.see(`//section[starts-with(@aria-label, "Chart")]`)
		for _, want := range []string{"LOVELACE, Ada", "MRN-2002", "Emergency access (break-glass) until"} {
			if !strings.Contains(banner, want) {
				t.Errorf("the banner under break-glass lacks %q:\n%s", want, banner)
			}
		}
		b.see(`//*[@role="status"][starts-with(normalize-space(.), "Emergency access (break-glass) until")]`)
		b.check("break-glass-chart")
	})
}

// requestRaw fetches url in the browser (with its cookies) and returns
// the status and headers.
func requestRaw(t *testing.T, b *browser, url string) (int, http.Header, int) {
	t.Helper()
	res := eval[struct {
		Status  int               `json:"status"`
		Headers map[string]string `json:"headers"`
		Size    int               `json:"size"`
	}](b, fmt.Sprintf(`fetch(%s).then(async r => ({status: r.status, headers: Object.fromEntries(r.headers.entries()), size: (await r.arrayBuffer()).byteLength}))`, jsString(url)))
	h := http.Header{}
	for k, v := range res.Headers {
		h.Set(k, v)
	}
	return res.Status, h, res.Size
}

// minimalPDF is a one-page PDF that says "Referral".
func minimalPDF() []byte {
	var b bytes.Buffer
	var offsets []int
	obj := func(s string) {
		offsets = append(offsets, b.Len())
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", len(offsets), s)
	}
	b.WriteString("%PDF-1.4\n")
	obj("<< /Type /Catalog /Pages 2 0 R >>")
	obj("<< /Type /Pages /Kids [3 0 R] /Count 1 >>")
	obj("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 144] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>")
	stream := "BT /F1 24 Tf 72 72 Td (Referral) Tj ET"
	obj(fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(stream), stream))
	obj("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(offsets)+1)
	for _, o := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(offsets)+1, xref)
	return b.Bytes()
}

// smallPNG is a 40×30 picture.
func smallPNG(t *testing.T) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 40, 30))
	for x := range 40 {
		for y := range 30 {
			img.Set(x, y, color.RGBA{uint8(200 + x), uint8(120 + y), 110, 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
