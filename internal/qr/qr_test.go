package qr

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	refqr "github.com/boombuler/barcode/qr"
)

// The Reed–Solomon codewords of the 1-M symbol of "HELLO WORLD" (in
// alphanumeric mode), worked by hand in Thonky's QR Code tutorial.
func TestReedSolomonKnownBlock(t *testing.T) {
	data := []byte{32, 91, 11, 120, 209, 114, 220, 77, 67, 64, 236, 17, 236, 17, 236, 17}
	want := []byte{196, 35, 39, 119, 235, 215, 231, 226, 93, 23}
	if got := remainder(data, generator(10)); !bytes.Equal(got, want) {
		t.Errorf("error correction of HELLO WORLD 1-M: got %v, want %v", got, want)
	}
}

// Format information of level M for masks 0–7, from ISO/IEC 18004
// annex C (table C.1), and the version information of version 7
// (annex D).
func TestFormatAndVersionBits(t *testing.T) {
	want := []string{"101010000010010", "101000100100101", "101111001111100", "101101101001011",
		"100010111111001", "100000011001110", "100111110010111", "100101010100000"}
	for mask, w := range want {
		if got := fmt.Sprintf("%015b", formatBits(mask)); got != w {
			t.Errorf("format bits of M, mask %d: got %s, want %s", mask, got, w)
		}
	}
	if got := versionBits(7); got != 0x07C94 {
		t.Errorf("version bits of 7: got %#x, want 0x7c94", got)
	}
	if got := versionBits(40); got != 0x28C69 {
		t.Errorf("version bits of 40: got %#x, want 0x28c69", got)
	}
}

// Codeword counts of ISO/IEC 18004 table 9 (level M), versions 1–13.
func TestCapacities(t *testing.T) {
	total := []int{26, 44, 70, 100, 134, 172, 196, 242, 292, 346, 404, 466, 532}
	data := []int{16, 28, 44, 64, 86, 108, 124, 154, 182, 216, 254, 290, 334}
	for v := 1; v <= len(total); v++ {
		if got := totalCodewords(v); got != total[v-1] {
			t.Errorf("version %d: got %d codewords, want %d", v, got, total[v-1])
		}
		if got := dataCodewords(v); got != data[v-1] {
			t.Errorf("version %d: got %d data codewords, want %d", v, got, data[v-1])
		}
	}
	// The modules left after the function patterns are the codewords'
	// bits plus 0, 3, 4 or 7 remainder bits.
	for v := 1; v <= 40; v++ {
		c := newCode(v)
		c.drawFunctionPatterns()
		free := 0
		for y := range c.Size {
			for x := range c.Size {
				if !c.function[y][x] {
					free++
				}
			}
		}
		if free != rawModules(v) || free-8*totalCodewords(v) > 7 {
			t.Errorf("version %d: %d data modules, want %d", v, free, rawModules(v))
		}
	}
}

// The symbols match, module for module, those of an independent encoder
// (boombuler/barcode, which pquerna/otp uses for its images) with the
// same mask.
func TestMatchesReferenceEncoder(t *testing.T) {
	inputs := []string{
		"01234567",
		"https://emr.example.org",
		"otpauth://totp/emr:admin?algorithm=SHA1&digits=6&issuer=emr&period=30&secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP",
		strings.Repeat("otpauth://totp/Hospital%20of%20St%20Elsewhere:dr.okafor?secret=ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 3),
		strings.Repeat("x", 200),
	}
	for _, in := range inputs {
		ref, err := refqr.Encode(in, refqr.M, refqr.Unicode)
		if err != nil {
			t.Fatal(err)
		}
		size := ref.Bounds().Dx()
		matched := false
		for mask := range 8 {
			c, err := encode([]byte(in), mask)
			if err != nil {
				t.Fatal(err)
			}
			if c.Size != size {
				t.Fatalf("%.20q: size %d, reference %d", in, c.Size, size)
			}
			same := true
			for y := 0; y < size && same; y++ {
				for x := range size {
					r, _, _, _ := ref.At(x, y).RGBA()
					if c.Dark(x, y) != (r == 0) {
						same = false
						break
					}
				}
			}
			matched = matched || same
		}
		if !matched {
			t.Errorf("%.20q (version %d): no mask gives the reference symbol", in, (size-17)/4)
		}
	}
}

func TestEncodeDecode(t *testing.T) {
	for _, n := range []int{0, 1, 14, 15, 16, 100, 150, 213, 214, 500, 2331} {
		data := bytes.Repeat([]byte("otpauth:/"), n/9+1)[:n]
		c, err := Encode(data)
		if err != nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
		got, err := decode(c)
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("%d bytes (version %d, mask %d): decoded %q, %v", n, c.Version, c.Mask, got, err)
		}
	}
	if _, err := Encode(make([]byte, 2332)); err == nil {
		t.Error("2,332 bytes encoded; want ErrTooLong")
	}
	if c, _ := Encode(make([]byte, 150)); c.Version != 8 {
		t.Errorf("150 bytes: version %d, want 8", c.Version)
	}
}

func TestSVG(t *testing.T) {
	c, _ := Encode([]byte("01234567"))
	svg := string(c.SVG(5))
	side := (21 + 2*QuietZone) * 5
	if !strings.HasPrefix(svg, fmt.Sprintf(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d"`, side, side)) {
		t.Errorf("SVG begins %.100s", svg)
	}
	// The top-left finder's first row: seven dark modules in one run.
	if !strings.Contains(svg, `d="M4 4h7v1h-7z`) {
		t.Errorf("SVG path does not start with the finder: %.200s", svg)
	}
}

func FuzzEncode(f *testing.F) {
	f.Add([]byte("otpauth://totp/emr:admin?secret=JBSWY3DPEHPK3PXP&issuer=emr"))
	f.Add([]byte{})
	f.Add(bytes.Repeat([]byte{0xff}, 300))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Encode(data)
		if err != nil {
			if len(data) <= 2331 {
				t.Fatalf("%d bytes: %v", len(data), err)
			}
			return
		}
		if c.Version < 1 || c.Version > 40 || c.Size != 17+4*c.Version || len(c.modules) != c.Size {
			t.Fatalf("version %d, size %d", c.Version, c.Size)
		}
		got, err := decode(c)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("decoded %q, %v", got, err)
		}
	})
}
