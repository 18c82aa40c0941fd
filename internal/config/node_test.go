package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestSampleNodeConfigIsDefaults(t *testing.T) {
	var got Node
	if err := overlayFile(&got, "../../shoal-node.yml", true); err != nil {
		t.Fatal(err)
	}
	want := DefaultNode()
	// An empty YAML list decodes as an empty, non-nil slice.
	if got.SharedObjects.Policy != nil && len(got.SharedObjects.Policy) == 0 {
		got.SharedObjects.Policy = nil
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("shoal-node.yml differs from DefaultNode() (-want +got):\n%s", diff)
	}
}

func TestLoadNode_FileEnvAndErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(s string) string {
		p := filepath.Join(dir, "c.yml")
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name    string
		file    string
		env     map[string]string
		wantErr string // substring naming the key; "" means success
		check   func(t *testing.T, c Node)
	}{
		{name: "defaults", file: "", check: func(t *testing.T, c Node) {
			t.Helper()
			if c.RTMP.Addr != ":1935" {
				t.Errorf("rtmp.addr = %q", c.RTMP.Addr)
			}
			if c.Cluster.PresenceTTL != 15*time.Second {
				t.Errorf("cluster.presence_ttl = %v, want 15s", c.Cluster.PresenceTTL)
			}
		}},
		{name: "file overrides", file: "rtmp:\n  addr: 127.0.0.1:0\nstream:\n  publisher_grace: 2s\n", check: func(t *testing.T, c Node) {
			t.Helper()
			if c.RTMP.Addr != "127.0.0.1:0" || c.Stream.PublisherGrace != 2*time.Second {
				t.Errorf("got %q %v", c.RTMP.Addr, c.Stream.PublisherGrace)
			}
		}},
		{
			name: "env overrides file", file: "rtmp:\n  addr: 127.0.0.1:0\n",
			env: map[string]string{"SHOAL_NODE_RTMP_ADDR": ":1999", "SHOAL_NODE_SHARED_OBJECTS_LINGER": "1s"},
			check: func(t *testing.T, c Node) {
				t.Helper()
				if c.RTMP.Addr != ":1999" || c.SharedObjects.Linger != time.Second {
					t.Errorf("got %q %v", c.RTMP.Addr, c.SharedObjects.Linger)
				}
			},
		},
		{name: "unknown key", file: "rtmp:\n  adr: x\n", wantErr: "field adr not found"},
		{name: "bad duration", file: "rtmp:\n  idle_timeout: soon\n", wantErr: "idle_timeout"},
		{name: "bad role", file: "node:\n  role: king\n", wantErr: "node.role"},
		{name: "bad addr", file: "http:\n  addr: nowhere\n", wantErr: "http.addr"},
		{name: "bad port", file: "rtmp:\n  addr: :99999\n", wantErr: "rtmp.addr"},
		{name: "bad env", env: map[string]string{"SHOAL_NODE_RTMP_MAX_CONNS": "many"}, wantErr: "rtmp.max_conns"},
		{name: "secret needed", file: "manager:\n  url: http://x\n", wantErr: "manager.secret"},
		{name: "write merge off", file: "stream:\n  write_merge: 0s\n", check: func(t *testing.T, c Node) {
			t.Helper()
			if c.Stream.WriteMerge != 0 {
				t.Errorf("stream.write_merge = %v, want 0", c.Stream.WriteMerge)
			}
		}},
		{name: "negative write merge", file: "stream:\n  write_merge: -1ms\n", wantErr: "stream.write_merge"},
		{name: "write merge too long", file: "stream:\n  write_merge: 2s\n", wantErr: "stream.write_merge"},
		{name: "send queue bytes", file: "shared_objects:\n  send_queue_bytes: 1024\n", check: func(t *testing.T, c Node) {
			t.Helper()
			if c.SharedObjects.SendQueueBytes != 1024 {
				t.Errorf("shared_objects.send_queue_bytes = %d, want 1024", c.SharedObjects.SendQueueBytes)
			}
		}},
		{name: "no send queue", file: "shared_objects:\n  send_queue_bytes: 0\n", wantErr: "shared_objects.send_queue_bytes"},
		{name: "presence ttl", file: "cluster:\n  presence_ttl: 2s\n", check: func(t *testing.T, c Node) {
			t.Helper()
			if c.Cluster.PresenceTTL != 2*time.Second {
				t.Errorf("cluster.presence_ttl = %v, want 2s", c.Cluster.PresenceTTL)
			}
		}},
		{name: "presence ttl from env", env: map[string]string{"SHOAL_NODE_CLUSTER_PRESENCE_TTL": "500ms"}, check: func(t *testing.T, c Node) {
			t.Helper()
			if c.Cluster.PresenceTTL != 500*time.Millisecond {
				t.Errorf("cluster.presence_ttl = %v, want 500ms", c.Cluster.PresenceTTL)
			}
		}},
		{name: "presence ttl too short", file: "cluster:\n  presence_ttl: 499ms\n", wantErr: "cluster.presence_ttl: must be at least 500ms"},
		{name: "zero presence ttl", env: map[string]string{"SHOAL_NODE_CLUSTER_PRESENCE_TTL": "0s"}, wantErr: "cluster.presence_ttl"},
		{name: "object larger than a log record", file: "shared_objects:\n  max_object_bytes: 900001\n", wantErr: "shared_objects.max_object_bytes: at most 900000"},
		{name: "bad policy", file: "shared_objects:\n  policy: [{create: [none]}]\n", wantErr: "shared_objects.policy[0].scope"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			path := ""
			if tc.file != "" {
				path = write(tc.file)
			}
			c, err := LoadNode(path, true)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("LoadNode error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("LoadNode: %v", err)
			}
			tc.check(t, c)
		})
	}
}

func TestValidationErrorNamesKey(t *testing.T) {
	c := DefaultNode()
	c.RTMP.ChunkSize = 0
	err := c.Validate()
	var ve *ValidationError
	if !errors.As(err, &ve) || ve.Key != "rtmp.chunk_size" {
		t.Fatalf("Validate() = %v, want a ValidationError for rtmp.chunk_size", err)
	}
}
