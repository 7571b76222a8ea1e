package qr

// Drawing the symbol: function patterns first, then the codewords in the
// standard's zig-zag over the remaining modules.

func newCode(version int) *Code {
	size := 17 + 4*version
	c := &Code{Version: version, Size: size, modules: make([][]bool, size), function: make([][]bool, size)}
	for y := range size {
		c.modules[y] = make([]bool, size)
		c.function[y] = make([]bool, size)
	}
	return c
}

// set draws a function module.
func (c *Code) set(x, y int, dark bool) {
	c.modules[y][x] = dark
	c.function[y][x] = true
}

func (c *Code) drawFunctionPatterns() {
	for i := range c.Size {
		c.set(6, i, i%2 == 0)
		c.set(i, 6, i%2 == 0)
	}
	c.drawFinder(3, 3)
	c.drawFinder(c.Size-4, 3)
	c.drawFinder(3, c.Size-4)
	pos := alignmentPositions(c.Version)
	for i, x := range pos {
		for j, y := range pos {
			// Not on the three finders.
			last := len(pos) - 1
			if i == 0 && j == 0 || i == 0 && j == last || i == last && j == 0 {
				continue
			}
			for dy := -2; dy <= 2; dy++ {
				for dx := -2; dx <= 2; dx++ {
					c.set(x+dx, y+dy, max(abs(dx), abs(dy)) != 1)
				}
			}
		}
	}
	// Reserve the format modules (drawn for real once the mask is known)
	// and draw the version information.
	c.drawFormat(0)
	c.drawVersion()
}

// drawFinder draws a finder pattern centred on (cx, cy) with its light
// separator.
func (c *Code) drawFinder(cx, cy int) {
	for dy := -4; dy <= 4; dy++ {
		for dx := -4; dx <= 4; dx++ {
			x, y := cx+dx, cy+dy
			if x < 0 || y < 0 || x >= c.Size || y >= c.Size {
				continue
			}
			d := max(abs(dx), abs(dy))
			c.set(x, y, d != 2 && d != 4)
		}
	}
}

// alignmentPositions are the row and column centres of version's
// alignment patterns: 6, then evenly spaced (by an even step) up to
// Size−7.
func alignmentPositions(version int) []int {
	if version == 1 {
		return nil
	}
	n := version/7 + 2
	step := 26
	if version != 32 {
		step = (version*4 + n*2 + 1) / (n*2 - 2) * 2
	}
	pos := make([]int, n)
	pos[0] = 6
	for i, p := n-1, 17+4*version-7; i >= 1; i, p = i-1, p-step {
		pos[i] = p
	}
	return pos
}

// formatBits is the 15-bit format information of level M and mask: five
// data bits, ten BCH(15,5) bits, XORed with 101010000010010.
func formatBits(mask int) int {
	data := 0b00<<3 | mask // level M is 00
	rem := data
	for range 10 {
		rem = rem<<1 ^ (rem>>9)*0x537
	}
	return (data<<10 | rem) ^ 0x5412
}

// drawFormat draws the format information twice: around the top-left
// finder, and split between the other two; and the dark module.
func (c *Code) drawFormat(mask int) {
	bits := formatBits(mask)
	bit := func(i int) bool { return bits>>i&1 == 1 }
	for i := 0; i <= 5; i++ {
		c.set(8, i, bit(i))
	}
	c.set(8, 7, bit(6))
	c.set(8, 8, bit(7))
	c.set(7, 8, bit(8))
	for i := 9; i < 15; i++ {
		c.set(14-i, 8, bit(i))
	}
	for i := range 8 {
		c.set(c.Size-1-i, 8, bit(i))
	}
	for i := 8; i < 15; i++ {
		c.set(8, c.Size-15+i, bit(i))
	}
	c.set(8, c.Size-8, true)
}

// versionBits is the 18-bit version information: six version bits and
// twelve BCH(18,6) bits.
func versionBits(version int) int {
	rem := version
	for range 12 {
		rem = rem<<1 ^ (rem>>11)*0x1F25
	}
	return version<<12 | rem
}

// drawVersion draws the version information of versions 7 and up, beside
// the top-right and bottom-left finders.
func (c *Code) drawVersion() {
	if c.Version < 7 {
		return
	}
	bits := versionBits(c.Version)
	for i := range 18 {
		dark := bits>>i&1 == 1
		a, b := c.Size-11+i%3, i/3
		c.set(a, b, dark)
		c.set(b, a, dark)
	}
}

// drawCodewords places the codewords' bits, most significant first, up
// and down two-module columns from the bottom right, skipping the
// vertical timing pattern and the function modules; remainder bits stay
// light.
func (c *Code) drawCodewords(codewords []byte) {
	i := 0
	for right := c.Size - 1; right >= 1; right -= 2 {
		if right == 6 {
			right = 5
		}
		for vert := range c.Size {
			for j := range 2 {
				x := right - j
				upward := (right+1)&2 == 0
				y := vert
				if upward {
					y = c.Size - 1 - vert
				}
				if c.function[y][x] {
					continue
				}
				if i < len(codewords)*8 {
					c.modules[y][x] = codewords[i/8]>>(7-i%8)&1 == 1
					i++
				}
			}
		}
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
