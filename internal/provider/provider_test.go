package provider

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestState_String(t *testing.T) {
	tests := []struct {
		s    State
		want string
	}{
		{StatePending, "PENDING"},
		{StateRunning, "RUNNING"},
		{StateTerminating, "TERMINATING"},
		{StateTerminated, "TERMINATED"},
		{StateUnknown, "UNKNOWN"},
		{0, "State(0)"},
		{42, "State(42)"},
	}
	for _, tt := range tests {
		if got := tt.s.String(); got != tt.want {
			t.Errorf("State(%d).String() = %q, want %q", int(tt.s), got, tt.want)
		}
	}
}

func TestMergeMetadata(t *testing.T) {
	tests := []struct {
		name string
		dst  map[string]string
		md   map[string]string
		want map[string]string
	}{
		{name: "nil both", want: map[string]string{}},
		{name: "add", dst: map[string]string{"a": "1"}, md: map[string]string{"b": "2"}, want: map[string]string{"a": "1", "b": "2"}},
		{name: "overwrite", dst: map[string]string{"a": "1"}, md: map[string]string{"a": "3"}, want: map[string]string{"a": "3"}},
		{name: "empty removes", dst: map[string]string{"a": "1", "b": "2"}, md: map[string]string{"a": ""}, want: map[string]string{"b": "2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := cmp.Diff(map[string]string(nil), tt.dst)
			got := MergeMetadata(tt.dst, tt.md)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("MergeMetadata (-want +got):\n%s", diff)
			}
			if after := cmp.Diff(map[string]string(nil), tt.dst); after != before {
				t.Errorf("MergeMetadata modified its dst argument")
			}
		})
	}
}
