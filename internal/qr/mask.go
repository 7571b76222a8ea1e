package qr

// masked reports whether mask inverts the module in column x, row y
// (ISO/IEC 18004 table 10, with i the row and j the column).
func masked(mask, x, y int) bool {
	switch mask {
	case 0:
		return (x+y)%2 == 0
	case 1:
		return y%2 == 0
	case 2:
		return x%3 == 0
	case 3:
		return (x+y)%3 == 0
	case 4:
		return (x/3+y/2)%2 == 0
	case 5:
		return x*y%2+x*y%3 == 0
	case 6:
		return (x*y%2+x*y%3)%2 == 0
	default:
		return ((x+y)%2+x*y%3)%2 == 0
	}
}

// applyMask inverts the data modules mask selects; applying it twice
// undoes it.
func (c *Code) applyMask(mask int) {
	for y := range c.Size {
		for x := range c.Size {
			if !c.function[y][x] && masked(mask, x, y) {
				c.modules[y][x] = !c.modules[y][x]
			}
		}
	}
}

// penalty scores the symbol by the four rules of ISO/IEC 18004 7.8.3; the
// mask with the lowest score is used. Lower means fewer patterns a reader
// could mistake for finders and a more even mix of dark and light.
func (c *Code) penalty() int {
	n := c.Size
	score := 0
	// Rule 1: runs of five or more modules of one colour in a row or a
	// column: 3, plus 1 for each module beyond five.
	// Rule 3: 1:1:3:1:1 finder-like patterns with four light modules on
	// either side: 40 each.
	for _, transpose := range []bool{false, true} {
		at := func(i, j int) bool {
			if transpose {
				return c.modules[j][i]
			}
			return c.modules[i][j]
		}
		for i := range n {
			run := 1
			for j := 1; j <= n; j++ {
				if j < n && at(i, j) == at(i, j-1) {
					run++
					continue
				}
				if run >= 5 {
					score += 3 + run - 5
				}
				run = 1
			}
			for j := 0; j+11 <= n; j++ {
				if finderLike(func(k int) bool { return at(i, j+k) }) {
					score += 40
				}
			}
		}
	}
	// Rule 2: 2×2 blocks of one colour: 3 each.
	dark := 0
	for y := range n {
		for x := range n {
			if c.modules[y][x] {
				dark++
			}
			if x > 0 && y > 0 {
				v := c.modules[y][x]
				if c.modules[y-1][x] == v && c.modules[y][x-1] == v && c.modules[y-1][x-1] == v {
					score += 3
				}
			}
		}
	}
	// Rule 4: 10 for each 5 % the share of dark modules is away from half.
	percent := dark * 100 / (n * n)
	score += abs(percent-50) / 5 * 10
	return score
}

// finderLike reports whether the eleven modules at(0…10) read
// dark-light-dark×3-light-dark then four light, or the reverse.
func finderLike(at func(int) bool) bool {
	const pattern = 0b10111010000
	forward, backward := true, true
	for k := range 11 {
		want := pattern>>(10-k)&1 == 1
		if at(k) != want {
			forward = false
		}
		if at(10-k) != want {
			backward = false
		}
	}
	return forward || backward
}
