package qr

import (
	"errors"
	"fmt"
)

// decode reads a symbol back, as a reader would once it has sampled the
// modules: the format information (both copies must agree and be a valid
// level-M codeword), unmasking, the codewords, de-interleaving, a check
// that every block's Reed–Solomon syndromes are zero, and the byte-mode
// segment. It trusts the size for the version, as it sees a clean image.
func decode(c *Code) ([]byte, error) {
	version := (c.Size - 17) / 4
	bits1, bits2 := 0, 0
	read := func(x, y int) int {
		if c.Dark(x, y) {
			return 1
		}
		return 0
	}
	for i := 0; i <= 5; i++ {
		bits1 |= read(8, i) << i
	}
	bits1 |= read(8, 7)<<6 | read(8, 8)<<7 | read(7, 8)<<8
	for i := 9; i < 15; i++ {
		bits1 |= read(14-i, 8) << i
	}
	for i := range 8 {
		bits2 |= read(c.Size-1-i, 8) << i
	}
	for i := 8; i < 15; i++ {
		bits2 |= read(8, c.Size-15+i) << i
	}
	if bits1 != bits2 {
		return nil, fmt.Errorf("format copies differ: %015b %015b", bits1, bits2)
	}
	mask := -1
	for m := range 8 {
		if formatBits(m) == bits1 {
			mask = m
		}
	}
	if mask < 0 {
		return nil, fmt.Errorf("format %015b is not level M", bits1)
	}
	layout := newCode(version)
	layout.drawFunctionPatterns()
	var raw []byte
	n := 0
	for right := c.Size - 1; right >= 1; right -= 2 {
		if right == 6 {
			right = 5
		}
		for vert := range c.Size {
			for j := range 2 {
				x, y := right-j, vert
				if (right+1)&2 == 0 {
					y = c.Size - 1 - vert
				}
				if layout.function[y][x] || n >= 8*totalCodewords(version) {
					continue
				}
				if n%8 == 0 {
					raw = append(raw, 0)
				}
				if c.Dark(x, y) != masked(mask, x, y) {
					raw[n/8] |= 0x80 >> (n % 8)
				}
				n++
			}
		}
	}
	// De-interleave into blocks and check each.
	blocks, ecLen := blockCount[version], ecPerBlock[version]
	short := totalCodewords(version) / blocks
	longFrom := blocks - totalCodewords(version)%blocks
	lens := make([]int, blocks)
	for b := range blocks {
		lens[b] = short - ecLen
		if b >= longFrom {
			lens[b]++
		}
	}
	block := make([][]byte, blocks)
	k := 0
	for i := 0; i <= short-ecLen; i++ {
		for b := range blocks {
			if i < lens[b] {
				block[b] = append(block[b], raw[k])
				k++
			}
		}
	}
	for range ecLen {
		for b := range blocks {
			block[b] = append(block[b], raw[k])
			k++
		}
	}
	var data []byte
	for b, cw := range block {
		for i := range ecLen {
			// The syndrome: the block as a polynomial at αⁱ.
			var s byte
			for _, v := range cw {
				s = gfMul(s, gfExp[i]) ^ v
			}
			if s != 0 {
				return nil, fmt.Errorf("block %d: syndrome %d is %d", b, i, s)
			}
		}
		data = append(data, cw[:lens[b]]...)
	}
	pos := 0
	take := func(bits int) int {
		v := 0
		for range bits {
			v = v<<1 | int(data[pos/8]>>(7-pos%8)&1)
			pos++
		}
		return v
	}
	if take(4) != 0b0100 {
		return nil, errors.New("not byte mode")
	}
	length := take(countBits(version))
	if 4+countBits(version)+8*length > 8*len(data) {
		return nil, fmt.Errorf("length %d overruns", length)
	}
	out := make([]byte, length)
	for i := range out {
		out[i] = byte(take(8))
	}
	return out, nil
}
