package flv

// bitReader reads the bits of an H.264/HEVC RBSP from a NAL unit payload,
// skipping emulation prevention bytes (00 00 03) as it goes, without
// copying. Reading past the end sets failed and returns zeros, so a parser
// can read a whole structure and check failed once.
type bitReader struct {
	b      []byte
	pos    int  // next byte of b
	zeros  int  // zero bytes just read, for emulation prevention
	cur    byte // the byte being read
	nbits  int  // bits of cur not read yet
	failed bool
}

func (r *bitReader) bit() uint32 {
	if r.nbits == 0 {
		if r.pos >= len(r.b) {
			r.failed = true
			return 0
		}
		c := r.b[r.pos]
		r.pos++
		if r.zeros >= 2 && c == 3 {
			r.zeros = 0
			if r.pos >= len(r.b) {
				r.failed = true
				return 0
			}
			c = r.b[r.pos]
			r.pos++
		}
		if c == 0 {
			r.zeros++
		} else {
			r.zeros = 0
		}
		r.cur, r.nbits = c, 8
	}
	r.nbits--
	return uint32(r.cur>>r.nbits) & 1
}

// u reads n bits, n ≤ 32, most significant first.
func (r *bitReader) u(n int) uint32 {
	var v uint32
	for range n {
		v = v<<1 | r.bit()
	}
	return v
}

// skip skips n bits.
func (r *bitReader) skip(n int) {
	for range n {
		if r.failed {
			return
		}
		r.bit()
	}
}

// ue reads an unsigned Exp-Golomb code. A code longer than 32 bits fails.
func (r *bitReader) ue() uint32 {
	zeros := 0
	for r.bit() == 0 {
		if r.failed || zeros == 31 {
			r.failed = true
			return 0
		}
		zeros++
	}
	return (1<<zeros - 1) + r.u(zeros)
}

// se reads a signed Exp-Golomb code.
func (r *bitReader) se() int32 {
	k := r.ue()
	if k&1 == 1 {
		return int32((k + 1) / 2)
	}
	return -int32(k / 2)
}
