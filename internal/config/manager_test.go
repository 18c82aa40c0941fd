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

func TestSampleManagerConfigIsDefaults(t *testing.T) {
	var got Manager
	if err := overlayFile(&got, "../../shoal.yml", true); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(DefaultManager(), got); diff != "" {
		t.Errorf("shoal.yml differs from DefaultManager() (-want +got):\n%s", diff)
	}
}

func TestDefaultManagerIsValid(t *testing.T) {
	c := DefaultManager()
	if err := c.Validate(); err != nil {
		t.Fatalf("DefaultManager().Validate() = %v", err)
	}
}

func TestLoadManager_FileEnvAndErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(s string) string {
		p := filepath.Join(dir, "shoal.yml")
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
		check   func(t *testing.T, c Manager)
	}{
		{name: "defaults", check: func(t *testing.T, c Manager) {
			t.Helper()
			if c.HTTP.Addr != ":5080" || c.Autoscale.ScaleOutMode != "competitive" || c.Provider.Type != "local" {
				t.Errorf("got %q %q %q", c.HTTP.Addr, c.Autoscale.ScaleOutMode, c.Provider.Type)
			}
		}},
		{
			name: "file overrides",
			file: "http:\n  addr: 127.0.0.1:0\nautoscale:\n  scaleout_mode: rigid\n  interval: 1s\nseed:\n  edge_capacity: 20\n",
			check: func(t *testing.T, c Manager) {
				t.Helper()
				if c.HTTP.Addr != "127.0.0.1:0" || c.Autoscale.ScaleOutMode != "rigid" ||
					c.Autoscale.Interval != time.Second || c.Seed.EdgeCapacity != 20 {
					t.Errorf("got %+v", c)
				}
			},
		},
		{
			name: "env overrides file", file: "rest:\n  admin_token: fromfile\n",
			env: map[string]string{
				"SHOAL_REST_ADMIN_TOKEN": "fromenv", "SHOAL_CLUSTER_REPORT_INTERVAL": "2s",
				"SHOAL_PROVIDER_LOCAL_BINARY": "/x/shoal-node", "SHOAL_SELECTION_MEMORY_WEIGHT": "0.5",
			},
			check: func(t *testing.T, c Manager) {
				t.Helper()
				if c.REST.AdminToken != "fromenv" || c.Cluster.ReportInterval != 2*time.Second ||
					c.Provider.Local.Binary != "/x/shoal-node" || c.Selection.MemoryWeight != 0.5 {
					t.Errorf("got %+v", c)
				}
			},
		},
		{name: "unknown key", file: "autoscale:\n  scaleout: rigid\n", wantErr: "field scaleout not found"},
		{name: "bad duration", file: "autoscale:\n  drain_timeout: later\n", wantErr: "autoscale.drain_timeout"},
		{name: "bad mode", file: "autoscale:\n  scaleout_mode: eager\n", wantErr: "autoscale.scaleout_mode"},
		{name: "bad provider", file: "provider:\n  type: aws\n", wantErr: "provider.type"},
		{name: "bad addr", file: "http:\n  addr: nowhere\n", wantErr: "http.addr"},
		{name: "bad public url", file: "http:\n  public_url: example.com\n", wantErr: "http.public_url"},
		{name: "short report interval", file: "cluster:\n  report_interval: 100ms\n", wantErr: "cluster.report_interval"},
		{name: "no embedded listen", file: "nats:\n  embedded:\n    listen: \"\"\n", wantErr: "nats.embedded.listen"},
		{name: "external nats needs no embedded", file: "nats:\n  url: nats://x:4222\n  embedded:\n    listen: \"\"\n", check: func(t *testing.T, c Manager) {
			t.Helper()
			if c.NATS.URL != "nats://x:4222" {
				t.Errorf("nats.url = %q", c.NATS.URL)
			}
		}},
		{name: "scale-in threshold", file: "autoscale:\n  scale_in_threshold: 100\n", wantErr: "autoscale.scale_in_threshold"},
		{name: "seed max below min", file: "seed:\n  edge_min: 3\n  edge_max: 2\n", wantErr: "seed.edge_max"},
		{name: "seed capacity", file: "seed:\n  origin_capacity: 0\n", wantErr: "seed.origin_capacity"},
		{name: "weights", file: "selection:\n  streams_weight: -1\n", wantErr: "selection.streams_weight"},
		{name: "bad env", env: map[string]string{"SHOAL_AUTOSCALE_SCALE_IN_THRESHOLD": "low"}, wantErr: "autoscale.scale_in_threshold"},
		{name: "bad log level", file: "log:\n  level: loud\n", wantErr: "log.level"},
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
			c, err := LoadManager(path, true)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("LoadManager error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("LoadManager: %v", err)
			}
			tc.check(t, c)
		})
	}
}

func TestLoadManager_MissingFile(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "absent.yml")
	if _, err := LoadManager(missing, false); err != nil {
		t.Errorf("LoadManager(missing, false) = %v, want defaults", err)
	}
	if _, err := LoadManager(missing, true); err == nil {
		t.Error("LoadManager(missing, true) = nil error, want one")
	}
}

func TestManagerValidationErrorNamesKey(t *testing.T) {
	c := DefaultManager()
	c.Autoscale.NewNodePingTimeout = 0
	var ve *ValidationError
	if err := c.Validate(); !errors.As(err, &ve) || ve.Key != "autoscale.new_node_ping_timeout" {
		t.Fatalf("Validate() = %v, want a ValidationError for autoscale.new_node_ping_timeout", err)
	}
}
