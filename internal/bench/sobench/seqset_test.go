package sobench

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSeqSet(t *testing.T) {
	tests := []struct {
		name    string
		want    []uint64 // the sequence numbers that should arrive
		got     []uint64 // in arrival order
		missing uint64
		dups    uint64
		reorder uint64
		highest uint64
	}{
		{name: "all in order", want: rangeSeq(1, 300), got: rangeSeq(1, 300), highest: 300},
		{name: "nothing arrived", want: rangeSeq(1, 130), missing: 130},
		{
			name: "holes across words", want: rangeSeq(1, 200), got: without(rangeSeq(1, 200), 1, 63, 64, 65, 128, 200),
			missing: 6, highest: 199,
		},
		{name: "duplicates counted once", want: rangeSeq(1, 3), got: []uint64{1, 2, 2, 3, 3, 3}, dups: 3, highest: 3},
		{name: "late arrivals", want: rangeSeq(1, 5), got: []uint64{2, 1, 5, 3, 4}, reorder: 3, highest: 5},
		{name: "extra arrivals are not missing", want: []uint64{1, 2}, got: rangeSeq(1, 1000), highest: 1000},
		{name: "only refused gaps expected", want: []uint64{1, 3, 5}, got: []uint64{1, 3, 5}, highest: 5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var want, got seqSet
			for _, s := range tc.want {
				want.add(s)
			}
			news := uint64(0)
			for _, s := range tc.got {
				if got.add(s) {
					news++
				}
			}
			type counts struct{ Missing, Dups, Reorder, Highest, Count uint64 }
			gotC := counts{got.missingFrom(&want), got.duplicates, got.reordered, got.highest, got.count}
			wantC := counts{tc.missing, tc.dups, tc.reorder, tc.highest, news}
			if diff := cmp.Diff(wantC, gotC); diff != "" {
				t.Errorf("counts differ (-want +got):\n%s", diff)
			}
			for _, s := range tc.got {
				if !got.has(s) {
					t.Errorf("has(%d) = false after add", s)
				}
			}
		})
	}
}

func rangeSeq(from, to uint64) []uint64 {
	var out []uint64
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}

func without(s []uint64, drop ...uint64) []uint64 {
	var out []uint64
next:
	for _, v := range s {
		for _, d := range drop {
			if v == d {
				continue next
			}
		}
		out = append(out, v)
	}
	return out
}
