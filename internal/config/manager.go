package config

import (
	"errors"
	"os"
	"strings"
	"time"
)

// Manager is the configuration of the stream manager (shoal manager and
// shoal up).
type Manager struct {
	HTTP      ManagerHTTP `yaml:"http"`
	REST      REST        `yaml:"rest"`
	Cluster   NodeCluster `yaml:"cluster"`
	Store     Store       `yaml:"store"`
	NATS      NATS        `yaml:"nats"`
	Provider  Provider    `yaml:"provider"`
	Autoscale Autoscale   `yaml:"autoscale"`
	Selection Selection   `yaml:"selection"`
	Seed      Seed        `yaml:"seed"`
	Log       Log         `yaml:"log"`
}

// ManagerHTTP configures the manager's HTTP listener (the REST API).
type ManagerHTTP struct {
	// Addr is the listen address; :5080 is Red5 Pro's port.
	Addr string `yaml:"addr"`
	// PublicURL is the URL nodes register with and printed links use;
	// empty means http://<host of addr>:<port>, with 127.0.0.1 for an
	// unspecified host.
	PublicURL string `yaml:"public_url"`
}

// REST configures access to the REST API.
type REST struct {
	// AdminToken guards the admin endpoints (Red5 Pro
	// rest.administratorToken). Required by shoal manager; shoal up
	// generates one when it is empty.
	AdminToken string `yaml:"admin_token"`
}

// NodeCluster configures how media nodes talk to the manager.
type NodeCluster struct {
	// Secret is the cluster secret nodes present when they register and
	// report (Red5 Pro cluster.password). Empty means generated at start,
	// which only works for nodes the manager launches itself.
	Secret string `yaml:"secret"`
	// ReportInterval is how often nodes report (Red5 Pro
	// cluster.reportingSpeed).
	ReportInterval time.Duration `yaml:"report_interval"`
	// MissedReports is how many reporting intervals an in-service node may
	// stay silent before it is marked FAULT.
	MissedReports int `yaml:"missed_reports"`
}

// Store configures the control-plane database.
type Store struct {
	// DSN is a SQLite file path ("sqlite:PATH" or a plain path) or a
	// postgres:// URL.
	DSN string `yaml:"dsn"`
}

// NATS configures the NATS server the media nodes share.
type NATS struct {
	// URL of an external NATS server or cluster (comma-separated) that the
	// nodes join; empty runs NATS embedded in the manager.
	URL      string       `yaml:"url"`
	Embedded EmbeddedNATS `yaml:"embedded"`
}

// EmbeddedNATS configures the NATS server embedded in the manager.
type EmbeddedNATS struct {
	// Listen is the client listen address nodes connect to; port 0 picks a
	// free port.
	Listen string `yaml:"listen"`
	// StoreDir holds JetStream's files.
	StoreDir string `yaml:"store_dir"`
}

// Provider configures the cloud bridge that runs media nodes.
type Provider struct {
	// Type is local (shoal-node processes on this machine) or none (nodes
	// are started by hand and register themselves; no autoscaling).
	Type  string        `yaml:"type"`
	Local LocalProvider `yaml:"local"`
}

// LocalProvider configures the local provider.
type LocalProvider struct {
	// Binary is the shoal-node executable; empty means shoal-node next to
	// the shoal executable, else on PATH.
	Binary string `yaml:"binary"`
	// WorkDir holds one directory per node (data and node.log).
	WorkDir string `yaml:"work_dir"`
	// StopTimeout is how long a node gets to stop after SIGTERM before
	// SIGKILL.
	StopTimeout time.Duration `yaml:"stop_timeout"`
}

// Autoscale configures the autoscaler. The per-role limits and times (min,
// max, warm-up, cool-down, scale-out and scale-in waits) come from each
// group's scale policy, the capacities from its launch configuration and
// the scale-out thresholds from the alarms.
type Autoscale struct {
	// Interval is the time between two evaluations of every group.
	Interval time.Duration `yaml:"interval"`
	// ScaleOutMode is competitive or rigid (autoscale.scaleout.mode).
	ScaleOutMode string `yaml:"scaleout_mode"`
	// CompetitiveGap is the wait between two operations in competitive
	// mode.
	CompetitiveGap time.Duration `yaml:"competitive_gap"`
	// ScaleInThreshold is the load, in percent of capacity, that the
	// remaining nodes must stay under when one is removed; below every
	// alarm threshold.
	ScaleInThreshold int `yaml:"scale_in_threshold"`
	// ScaleInWait is how long the low load must last before a node is
	// drained, when the policy's scaleInWaitTime is 0.
	ScaleInWait time.Duration `yaml:"scale_in_wait"`
	// DrainTimeout bounds how long a draining node keeps its clients
	// before it is terminated anyway.
	DrainTimeout time.Duration `yaml:"drain_timeout"`
	// NewNodePingTimeout is how long a launched node has to register
	// (Red5 Pro instancecontroller.newNodePingTimeThreshold).
	NewNodePingTimeout time.Duration `yaml:"new_node_ping_timeout"`
	// OriginIdle is how long an origin must have no publishers before it
	// is drained (never below the policy's minimum).
	OriginIdle time.Duration `yaml:"origin_idle"`
}

// Selection weighs the metrics that choose a node for a publisher or a
// subscriber (Red5 Pro instanceevaluator.*.metricweight).
type Selection struct {
	StreamsWeight     float64 `yaml:"streams_weight"`
	ConnectionsWeight float64 `yaml:"connections_weight"`
	SubscribersWeight float64 `yaml:"subscribers_weight"`
	MemoryWeight      float64 `yaml:"memory_weight"`
	// RefreshInterval is how often the selector reloads nodes and loads
	// from the database (for changes made by other managers).
	RefreshInterval time.Duration `yaml:"refresh_interval"`
}

// Seed is what the manager creates at start when it is absent from the
// database: a launch configuration, a scale policy and, optionally, a node
// group using them. Later changes go through the API.
type Seed struct {
	LaunchConfig   string `yaml:"launch_config"`
	ScalePolicy    string `yaml:"scale_policy"`
	OriginCapacity int    `yaml:"origin_capacity"`
	EdgeCapacity   int    `yaml:"edge_capacity"`
	OriginMin      int    `yaml:"origin_min"`
	OriginMax      int    `yaml:"origin_max"`
	EdgeMin        int    `yaml:"edge_min"`
	EdgeMax        int    `yaml:"edge_max"`
	// Group is the node group to create; empty creates none (shoal up
	// uses "default").
	Group string `yaml:"group"`
	// Region is the group's region.
	Region string `yaml:"region"`
}

// DefaultManager returns the manager configuration used when nothing
// overrides it. shoal.yml in the repository root must equal it (a test
// checks).
func DefaultManager() Manager {
	return Manager{
		HTTP:    ManagerHTTP{Addr: ":5080"},
		Cluster: NodeCluster{ReportInterval: 10 * time.Second, MissedReports: 3},
		Store:   Store{DSN: "data/manager/shoal.db"},
		NATS:    NATS{Embedded: EmbeddedNATS{Listen: "127.0.0.1:4222", StoreDir: "data/manager/nats"}},
		Provider: Provider{
			Type:  "local",
			Local: LocalProvider{WorkDir: "data/manager/nodes", StopTimeout: 10 * time.Second},
		},
		Autoscale: Autoscale{
			Interval:           5 * time.Second,
			ScaleOutMode:       "competitive",
			CompetitiveGap:     5 * time.Second,
			ScaleInThreshold:   20,
			ScaleInWait:        time.Minute,
			DrainTimeout:       10 * time.Minute,
			NewNodePingTimeout: 150 * time.Second,
			OriginIdle:         5 * time.Minute,
		},
		Selection: Selection{
			StreamsWeight: 30, ConnectionsWeight: 15, SubscribersWeight: 60, MemoryWeight: 20,
			RefreshInterval: 5 * time.Second,
		},
		Seed: Seed{
			LaunchConfig: "default", ScalePolicy: "default",
			OriginCapacity: 30, EdgeCapacity: 300,
			OriginMin: 1, OriginMax: 5, EdgeMin: 1, EdgeMax: 10,
			Region: "local",
		},
		Log: Log{Level: "info", Format: "text"},
	}
}

// LoadManager reads the defaults, then the YAML file at path (unknown keys
// are errors; a missing file is an error only if required), then SHOAL_*
// environment variables (SHOAL_ + the upper-case key path, for example
// SHOAL_HTTP_ADDR), and validates the result.
func LoadManager(path string, required bool) (Manager, error) {
	cfg := DefaultManager()
	if path != "" {
		if err := overlayFile(&cfg, path, required); err != nil {
			return Manager{}, err
		}
	}
	if err := overlayEnv(&cfg, "SHOAL_", os.LookupEnv); err != nil {
		return Manager{}, err
	}
	return cfg, cfg.Validate()
}

// Validate checks every field and returns all problems, each naming its
// key. The admin token is not required here: shoal up generates one, and
// shoal manager checks it.
func (c *Manager) Validate() error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	add(checkHostPort("http.addr", c.HTTP.Addr))
	if u := c.HTTP.PublicURL; u != "" && !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
		add(invalid("http.public_url", "%q must start with http:// or https://", u))
	}
	if c.Cluster.ReportInterval < time.Second {
		add(invalid("cluster.report_interval", "must be at least 1s, got %s", c.Cluster.ReportInterval))
	}
	add(checkPositive("cluster.missed_reports", int64(c.Cluster.MissedReports)))
	if c.Store.DSN == "" {
		add(invalid("store.dsn", "must not be empty"))
	}
	if c.NATS.URL == "" {
		add(checkHostPort("nats.embedded.listen", c.NATS.Embedded.Listen))
		if c.NATS.Embedded.StoreDir == "" {
			add(invalid("nats.embedded.store_dir", "must not be empty when nats.url is empty"))
		}
	}
	add(checkOneOf("provider.type", c.Provider.Type, "local", "none"))
	if c.Provider.Type == "local" {
		if c.Provider.Local.WorkDir == "" {
			add(invalid("provider.local.work_dir", "must not be empty"))
		}
		add(checkPositive("provider.local.stop_timeout", int64(c.Provider.Local.StopTimeout)))
	}
	a := c.Autoscale
	add(checkPositive("autoscale.interval", int64(a.Interval)))
	add(checkOneOf("autoscale.scaleout_mode", a.ScaleOutMode, "competitive", "rigid"))
	if a.CompetitiveGap < 0 {
		add(invalid("autoscale.competitive_gap", "must not be negative"))
	}
	if a.ScaleInThreshold < 1 || a.ScaleInThreshold > 99 {
		add(invalid("autoscale.scale_in_threshold", "must be from 1 to 99 percent, got %d", a.ScaleInThreshold))
	}
	if a.ScaleInWait < 0 {
		add(invalid("autoscale.scale_in_wait", "must not be negative"))
	}
	add(checkPositive("autoscale.drain_timeout", int64(a.DrainTimeout)))
	add(checkPositive("autoscale.new_node_ping_timeout", int64(a.NewNodePingTimeout)))
	add(checkPositive("autoscale.origin_idle", int64(a.OriginIdle)))
	s := c.Selection
	for _, w := range []struct {
		key string
		v   float64
	}{
		{"selection.streams_weight", s.StreamsWeight},
		{"selection.connections_weight", s.ConnectionsWeight},
		{"selection.subscribers_weight", s.SubscribersWeight},
		{"selection.memory_weight", s.MemoryWeight},
	} {
		if w.v < 0 {
			add(invalid(w.key, "must not be negative, got %g", w.v))
		}
	}
	if s.StreamsWeight+s.ConnectionsWeight+s.SubscribersWeight+s.MemoryWeight <= 0 {
		add(invalid("selection", "at least one weight must be positive"))
	}
	add(checkPositive("selection.refresh_interval", int64(s.RefreshInterval)))
	add(c.Seed.validate())
	add(checkOneOf("log.level", c.Log.Level, "debug", "info", "warn", "error"))
	add(checkOneOf("log.format", c.Log.Format, "text", "json"))
	return errors.Join(errs...)
}

func (s Seed) validate() error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	for _, n := range []struct{ key, v string }{
		{"seed.launch_config", s.LaunchConfig}, {"seed.scale_policy", s.ScalePolicy}, {"seed.region", s.Region},
	} {
		if n.v == "" {
			add(invalid(n.key, "must not be empty"))
		}
	}
	add(checkPositive("seed.origin_capacity", int64(s.OriginCapacity)))
	add(checkPositive("seed.edge_capacity", int64(s.EdgeCapacity)))
	for _, r := range []struct {
		role     string
		min, max int
	}{{"origin", s.OriginMin, s.OriginMax}, {"edge", s.EdgeMin, s.EdgeMax}} {
		if r.min < 0 {
			add(invalid("seed."+r.role+"_min", "must not be negative, got %d", r.min))
		}
		if r.max < r.min {
			add(invalid("seed."+r.role+"_max", "must be at least seed.%s_min (%d), got %d", r.role, r.min, r.max))
		}
	}
	return errors.Join(errs...)
}
