// Package qr encodes text as a QR Code (ISO/IEC 18004) and draws it as
// SVG, for the authenticator enrolment page: an otpauth:// URL of about
// 100–150 bytes becomes a version 6–8 symbol. It encodes in byte mode at
// error correction level M only (15 % of the symbol may be damaged), which
// is what authenticator apps are shown everywhere; the mask is chosen by
// the standard's four penalty rules.
package qr

import (
	"errors"
	"fmt"
)

// Code is an encoded symbol: Size×Size modules, true for dark.
type Code struct {
	Version int // 1–40
	Mask    int // 0–7
	Size    int // 17 + 4×Version
	modules [][]bool
	// function marks the finder, timing, alignment, format and version
	// modules, which masking leaves alone.
	function [][]bool
}

// Dark reports whether the module in column x, row y is dark; outside the
// symbol (the quiet zone) it is light.
func (c *Code) Dark(x, y int) bool {
	if x < 0 || y < 0 || x >= c.Size || y >= c.Size {
		return false
	}
	return c.modules[y][x]
}

// ErrTooLong is returned for data that does not fit a version 40 symbol
// (2,331 bytes at level M).
var ErrTooLong = errors.New("qr: data too long for a QR code")

// Encode returns the smallest level-M symbol holding data in byte mode.
func Encode(data []byte) (*Code, error) {
	return encode(data, -1)
}

// encode builds the symbol with the given mask, or the best one for -1.
func encode(data []byte, mask int) (*Code, error) {
	version := 0
	for v := 1; v <= 40; v++ {
		if 4+countBits(v)+8*len(data) <= 8*dataCodewords(v) {
			version = v
			break
		}
	}
	if version == 0 {
		return nil, fmt.Errorf("%w: %d bytes", ErrTooLong, len(data))
	}
	codewords := addErrorCorrection(version, bitstream(version, data))
	c := newCode(version)
	c.drawFunctionPatterns()
	c.drawCodewords(codewords)
	if mask < 0 {
		best := -1
		for m := range 8 {
			c.applyMask(m)
			c.drawFormat(m)
			if p := c.penalty(); best < 0 || p < best {
				best, mask = p, m
			}
			c.applyMask(m) // masking twice undoes it
		}
	}
	c.Mask = mask
	c.applyMask(mask)
	c.drawFormat(mask)
	return c, nil
}

// countBits is the length of the byte-mode character count.
func countBits(version int) int {
	if version <= 9 {
		return 8
	}
	return 16
}

// bitstream is the data codewords of version: mode, count, data,
// terminator, then the pad bytes 0xEC 0x11 alternately.
func bitstream(version int, data []byte) []byte {
	var b bitWriter
	b.write(0b0100, 4) // byte mode
	b.write(uint32(len(data)), countBits(version))
	for _, d := range data {
		b.write(uint32(d), 8)
	}
	capacity := 8 * dataCodewords(version)
	b.write(0, min(4, capacity-b.n))
	b.write(0, (8-b.n%8)%8)
	for pad := byte(0xEC); b.n < capacity; pad ^= 0xEC ^ 0x11 {
		b.write(uint32(pad), 8)
	}
	return b.bytes
}

type bitWriter struct {
	bytes []byte
	n     int // bits written
}

func (b *bitWriter) write(v uint32, bits int) {
	for i := bits - 1; i >= 0; i-- {
		if b.n%8 == 0 {
			b.bytes = append(b.bytes, 0)
		}
		if v>>i&1 == 1 {
			b.bytes[b.n/8] |= 0x80 >> (b.n % 8)
		}
		b.n++
	}
}
