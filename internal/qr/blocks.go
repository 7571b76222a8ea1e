package qr

// Level M's error correction codewords per block and number of blocks,
// by version (index 0 unused), from ISO/IEC 18004 table 9. The number of
// codewords a version holds follows from its function patterns
// (rawModules), and the blocks split them as evenly as they can, the
// longer blocks last.
var (
	ecPerBlock = [41]int{0, 10, 16, 26, 18, 24, 16, 18, 22, 22, 26, 30, 22, 22, 24, 24, 28, 28, 26, 26, 26,
		26, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28}
	blockCount = [41]int{0, 1, 1, 1, 2, 2, 4, 4, 4, 5, 5, 5, 8, 9, 9, 10, 10, 11, 13, 14, 16,
		17, 17, 18, 20, 21, 23, 25, 26, 28, 29, 31, 33, 35, 37, 38, 40, 43, 45, 47, 49}
)

// rawModules is the number of modules of version that carry codewords
// (and, for versions 2–6 and 14–20…, a few remainder bits): the symbol
// minus its finder, separator, timing, alignment, format and version
// modules and the dark module.
func rawModules(version int) int {
	n := (16*version+128)*version + 64
	if version >= 2 {
		align := version/7 + 2
		n -= (25*align-10)*align - 55
		if version >= 7 {
			n -= 36
		}
	}
	return n
}

// totalCodewords is the number of 8-bit codewords of version.
func totalCodewords(version int) int { return rawModules(version) / 8 }

// dataCodewords is the number of data codewords of version at level M.
func dataCodewords(version int) int {
	return totalCodewords(version) - ecPerBlock[version]*blockCount[version]
}

// addErrorCorrection splits data into the version's blocks, appends each
// block's Reed–Solomon codewords and interleaves them: the first codeword
// of every block, then the second, …, then the error correction codewords
// the same way.
func addErrorCorrection(version int, data []byte) []byte {
	blocks, ecLen := blockCount[version], ecPerBlock[version]
	total := totalCodewords(version)
	short := total / blocks // codewords of a short block
	longBlocks := total % blocks
	gen := generator(ecLen)
	var dataBlocks, ecBlocks [][]byte
	for i, k := 0, 0; i < blocks; i++ {
		n := short - ecLen
		if i >= blocks-longBlocks {
			n++
		}
		dataBlocks = append(dataBlocks, data[k:k+n])
		ecBlocks = append(ecBlocks, remainder(data[k:k+n], gen))
		k += n
	}
	out := make([]byte, 0, total)
	for i := 0; i <= short-ecLen; i++ {
		for _, b := range dataBlocks {
			if i < len(b) {
				out = append(out, b[i])
			}
		}
	}
	for i := range ecLen {
		for _, b := range ecBlocks {
			out = append(out, b[i])
		}
	}
	return out
}
