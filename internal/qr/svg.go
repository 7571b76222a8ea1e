package qr

import (
	"fmt"
	"strings"
)

// QuietZone is the light margin, in modules, the standard asks around a
// symbol.
const QuietZone = 4

// SVG draws the symbol as an SVG image, each module scale pixels square
// (scale < 1 is taken as 1), with the quiet zone: one path of the dark
// modules on a white square, crisp at any zoom.
func (c *Code) SVG(scale int) []byte {
	scale = max(scale, 1)
	side := c.Size + 2*QuietZone
	var path strings.Builder
	for y := range c.Size {
		for x := 0; x < c.Size; x++ {
			if !c.modules[y][x] {
				continue
			}
			// One horizontal run of dark modules per rectangle.
			run := 1
			for x+run < c.Size && c.modules[y][x+run] {
				run++
			}
			fmt.Fprintf(&path, "M%d %dh%dv1h-%dz", x+QuietZone, y+QuietZone, run, run)
			x += run - 1
		}
	}
	return fmt.Appendf(nil, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" shape-rendering="crispEdges">`+
		`<rect width="%d" height="%d" fill="#fff"/><path fill="#000" d="%s"/></svg>`,
		side*scale, side*scale, side, side, side, side, path.String())
}
