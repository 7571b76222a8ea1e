package web

import (
	"encoding/base64"
	"html/template"

	"github.com/emr-project/emr/internal/qr"
)

// qrModulePixels is the side of one QR module on the enrolment page:
// phone cameras read 4 px and up comfortably from a screen, and an
// otpauth URL's symbol (version 6–8, 49–57 modules with the quiet zone)
// stays under 300 px, inside a phone's width.
const qrModulePixels = 5

// qrImage returns the otpauth URL as a QR code in a data: URL, for an
// <img> on the enrolment page: the image is part of the page, so it shows
// the very secret the page names (a second request would start another
// enrolment), and the page's CSP allows img-src data:.
func qrImage(otpURL string) template.URL {
	code, err := qr.Encode([]byte(otpURL))
	if err != nil {
		return "" // the page still shows the secret as text
	}
	// Safe: a base64 SVG we drew ourselves.
	return template.URL("data:image/svg+xml;base64," + base64.StdEncoding.EncodeToString(code.SVG(qrModulePixels)))
}
