package agentapi

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestRTMPURL(t *testing.T) {
	tests := []struct {
		name          string
		host          string
		port          int
		scope, stream string
		want          string
	}{
		{name: "simple", host: "10.0.0.1", port: 1935, scope: "live", stream: "s1", want: "rtmp://10.0.0.1:1935/live/s1"},
		{name: "nested scope", host: "h", port: 1936, scope: "/live/room1/", stream: "s1", want: "rtmp://h:1936/live/room1/s1"},
		{name: "no scope", host: "h", port: 1, scope: "", stream: "s1", want: "rtmp://h:1/s1"},
		{name: "ipv6", host: "::1", port: 1935, scope: "live", stream: "s", want: "rtmp://[::1]:1935/live/s"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := RTMPURL(tc.host, tc.port, tc.scope, tc.stream); got != tc.want {
				t.Errorf("RTMPURL(%q, %d, %q, %q) = %q, want %q", tc.host, tc.port, tc.scope, tc.stream, got, tc.want)
			}
		})
	}
}

func TestJSONFieldNames(t *testing.T) {
	b, err := json.Marshal(Report{NodeID: "n", Streams: []Stream{{Scope: "live", Name: "a", Publishing: true, Subscribers: 2}}})
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"node_id": "n", "connections": 0.0, "publishers": 0.0, "subscribers": 0.0,
		"bytes_in_per_s": 0.0, "bytes_out_per_s": 0.0, "cpu": 0.0, "memory_bytes": 0.0,
		"streams": []any{map[string]any{"scope": "live", "name": "a", "publishing": true, "subscribers": 2.0}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Report JSON mismatch (-want +got):\n%s", diff)
	}
	if d := (RegisterResponse{ReportIntervalMS: 1500}).ReportInterval(); d != 1500*time.Millisecond {
		t.Errorf("ReportInterval() = %v, want 1.5s", d)
	}
}
