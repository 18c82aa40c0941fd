package sobench

import "math/bits"

// seqSet records which sequence numbers (from 1) arrived, with one bit
// each, and counts what arrived twice or after a later one. The zero value
// is empty; it is not safe for concurrent use.
type seqSet struct {
	bits       []uint64
	count      uint64 // distinct sequence numbers
	duplicates uint64
	reordered  uint64 // arrived after a higher sequence number
	highest    uint64
}

// add records seq and reports whether it was new.
func (s *seqSet) add(seq uint64) bool {
	w := int(seq / 64)
	if w >= len(s.bits) {
		s.bits = append(s.bits, make([]uint64, max(w+1-len(s.bits), len(s.bits)))...)
	}
	m := uint64(1) << (seq % 64)
	if s.bits[w]&m != 0 {
		s.duplicates++
		return false
	}
	s.bits[w] |= m
	s.count++
	if seq < s.highest {
		s.reordered++
	}
	s.highest = max(s.highest, seq)
	return true
}

// has reports whether seq was recorded.
func (s *seqSet) has(seq uint64) bool {
	w := int(seq / 64)
	return w < len(s.bits) && s.bits[w]&(1<<(seq%64)) != 0
}

// missingFrom counts the sequence numbers of want that s lacks.
func (s *seqSet) missingFrom(want *seqSet) uint64 {
	var n int
	for i, w := range want.bits {
		var have uint64
		if i < len(s.bits) {
			have = s.bits[i]
		}
		n += bits.OnesCount64(w &^ have)
	}
	return uint64(n)
}
