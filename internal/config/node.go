package config

import (
	"errors"
	"os"
	"time"
)

// Node is the configuration of shoal-node, the media node.
type Node struct {
	Node          NodeIdentity  `yaml:"node"`
	RTMP          RTMP          `yaml:"rtmp"`
	HTTP          HTTP          `yaml:"http"`
	Stream        Stream        `yaml:"stream"`
	SharedObjects SharedObjects `yaml:"shared_objects"`
	Cluster       Cluster       `yaml:"cluster"`
	Manager       ManagerLink   `yaml:"manager"`
	Relay         Relay         `yaml:"relay"`
	Log           Log           `yaml:"log"`
}

// NodeIdentity names the node and its role.
type NodeIdentity struct {
	// ID is the node's identifier in the cluster; empty means generated at start.
	ID string `yaml:"id"`
	// Role is origin, edge or allinone.
	Role string `yaml:"role"`
	// Host is the address clients use to reach this node; empty means the
	// host of the listen address, or 127.0.0.1 when that is unspecified.
	Host string `yaml:"host"`
	// DataDir holds the node's persistent state (embedded NATS store).
	DataDir string `yaml:"data_dir"`
}

// RTMP configures the RTMP listener.
type RTMP struct {
	Addr             string        `yaml:"addr"`
	ChunkSize        uint32        `yaml:"chunk_size"`
	HandshakeTimeout time.Duration `yaml:"handshake_timeout"`
	IdleTimeout      time.Duration `yaml:"idle_timeout"`
	WriteTimeout     time.Duration `yaml:"write_timeout"`
	MaxConns         int           `yaml:"max_conns"`
	MaxMessageSize   uint32        `yaml:"max_message_size"`
}

// HTTP configures the node's HTTP listener (health, metrics, API,
// WebSocket shared objects, demo pages).
type HTTP struct {
	Addr string `yaml:"addr"`
	// Pprof serves Go profiles under /debug/pprof/. They reveal internals
	// and cost CPU while taken, so they are off by default.
	Pprof bool `yaml:"pprof"`
}

// maxWriteMerge bounds stream.write_merge: players buffer a few seconds,
// but a longer window is latency nobody asked for.
const maxWriteMerge = time.Second

// Stream configures live fan-out.
type Stream struct {
	QueuePackets   int           `yaml:"queue_packets"`
	QueueBytes     int           `yaml:"queue_bytes"`
	GOPCacheBytes  int           `yaml:"gop_cache_bytes"`
	PublisherGrace time.Duration `yaml:"publisher_grace"`
	// WriteMerge is how long a player's packets collect after each write
	// before they go out together (rtmp.Server.WriteMerge); 0 disables.
	// Edge relay pulls are never merged.
	WriteMerge time.Duration `yaml:"write_merge"`
}

// SharedObjects configures Remote Shared Objects.
type SharedObjects struct {
	Linger         time.Duration `yaml:"linger"`
	SnapshotEvery  int           `yaml:"snapshot_every"`
	MaxAttributes  int           `yaml:"max_attributes"`
	MaxValueBytes  int           `yaml:"max_value_bytes"`
	MaxObjectBytes int           `yaml:"max_object_bytes"`
	// SendQueueBytes bounds the shared-object messages an RTMP connection
	// holds for its client (rtmp.Server.SendQueueBytes); a client that
	// falls further behind is disconnected.
	SendQueueBytes int      `yaml:"send_queue_bytes"`
	Policy         []SORule `yaml:"policy"`
}

// SORule is an operator policy for the shared objects of matching scopes.
type SORule struct {
	// Scope is a glob over scope paths, for example "live/*".
	Scope string `yaml:"scope"`
	// Names are globs of object names clients may use; empty allows all.
	Names []string `yaml:"names"`
	// ReadOnly are globs of object names clients may not write.
	ReadOnly []string `yaml:"read_only"`
	// Create says what clients may create: empty or ["any"] for every
	// allowed name, ["none"] for nothing (only server code creates), or
	// name globs.
	Create []string `yaml:"create"`
}

// minPresenceTTL is the shortest cluster.presence_ttl (cluster.Config
// refuses shorter ones).
const minPresenceTTL = 500 * time.Millisecond

// Cluster configures the node's connection to NATS.
type Cluster struct {
	// NATSURL is the NATS server (or comma-separated cluster) to join;
	// empty runs an embedded NATS server inside the node.
	NATSURL     string `yaml:"nats_url"`
	Credentials string `yaml:"credentials"`
	User        string `yaml:"user"`
	Password    string `yaml:"password"`
	Token       string `yaml:"token"`
	TLSCA       string `yaml:"tls_ca"`
	TLSCert     string `yaml:"tls_cert"`
	TLSKey      string `yaml:"tls_key"`
	Replicas    int    `yaml:"replicas"`
	// EmbeddedAddr is where the embedded NATS server listens when NATSURL
	// is empty; empty keeps it in-process only.
	EmbeddedAddr string `yaml:"embedded_addr"`
	// PresenceTTL is how long the node's shared-object presence keys live
	// without refresh (refreshed every PresenceTTL/3). It also bounds how
	// long a crashed node's transient objects outlive it: the janitor,
	// sweeping every PresenceTTL, drops an orphan once its last write is
	// older than shared_objects.linger plus PresenceTTL. A node cut off
	// from NATS for longer than this is taken for gone.
	PresenceTTL time.Duration `yaml:"presence_ttl"`
}

// ManagerLink configures the node agent that registers with the stream
// manager.
type ManagerLink struct {
	// URL of the stream manager; empty runs the node stand-alone.
	URL             string        `yaml:"url"`
	Secret          string        `yaml:"secret"`
	ReportInterval  time.Duration `yaml:"report_interval"`
	Group           string        `yaml:"group"`
	RegisterTimeout time.Duration `yaml:"register_timeout"`
}

// Relay configures how an edge pulls streams from origins.
type Relay struct {
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	RetryMin    time.Duration `yaml:"retry_min"`
	RetryMax    time.Duration `yaml:"retry_max"`
}

// Log configures logging.
type Log struct {
	Level  string `yaml:"level"`
	Format string `yaml:"format"`
}

// DefaultNode returns the node configuration used when nothing overrides it.
// shoal-node.yml in the repository root must equal it (a test checks).
func DefaultNode() Node {
	return Node{
		Node: NodeIdentity{Role: "allinone", DataDir: "data/node"},
		RTMP: RTMP{
			Addr:             ":1935",
			ChunkSize:        4096,
			HandshakeTimeout: 10 * time.Second,
			IdleTimeout:      30 * time.Second,
			WriteTimeout:     10 * time.Second,
			MaxConns:         10000,
			MaxMessageSize:   8 << 20,
		},
		HTTP: HTTP{Addr: ":5080"},
		Stream: Stream{
			QueuePackets:   1024,
			QueueBytes:     8 << 20,
			GOPCacheBytes:  16 << 20,
			PublisherGrace: 5 * time.Second,
			WriteMerge:     100 * time.Millisecond,
		},
		SharedObjects: SharedObjects{
			Linger:         5 * time.Second,
			SnapshotEvery:  1000,
			MaxAttributes:  1024,
			MaxValueBytes:  64 << 10,
			MaxObjectBytes: 512 << 10,
			SendQueueBytes: 8 << 20,
		},
		Cluster: Cluster{Replicas: 1, PresenceTTL: 15 * time.Second},
		Manager: ManagerLink{ReportInterval: 10 * time.Second, RegisterTimeout: 10 * time.Second},
		Relay: Relay{
			IdleTimeout: 10 * time.Second,
			RetryMin:    500 * time.Millisecond,
			RetryMax:    10 * time.Second,
		},
		Log: Log{Level: "info", Format: "text"},
	}
}

// LoadNode reads the defaults, then the YAML file at path (unknown keys are
// errors; a missing file is an error only if required), then SHOAL_NODE_*
// environment variables, and validates the result.
func LoadNode(path string, required bool) (Node, error) {
	cfg := DefaultNode()
	if path != "" {
		if err := overlayFile(&cfg, path, required); err != nil {
			return Node{}, err
		}
	}
	if err := overlayEnv(&cfg, "SHOAL_NODE_", os.LookupEnv); err != nil {
		return Node{}, err
	}
	return cfg, cfg.Validate()
}

// MaxObjectBytesLimit bounds shared_objects.max_object_bytes: an object's
// snapshot is one record of the cluster's log, whose records are at most
// 1,000,000 bytes; the rest is room for keys and framing.
const MaxObjectBytesLimit = 900_000

// Validate checks every field and returns all problems, each naming its key.
func (c *Node) Validate() error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	add(checkOneOf("node.role", c.Node.Role, "origin", "edge", "allinone"))
	add(checkHostPort("rtmp.addr", c.RTMP.Addr))
	add(checkHostPort("http.addr", c.HTTP.Addr))
	if c.RTMP.ChunkSize < 128 || c.RTMP.ChunkSize > 65536 {
		add(invalid("rtmp.chunk_size", "must be between 128 and 65536, got %d", c.RTMP.ChunkSize))
	}
	add(checkPositive("rtmp.handshake_timeout", int64(c.RTMP.HandshakeTimeout)))
	add(checkPositive("rtmp.idle_timeout", int64(c.RTMP.IdleTimeout)))
	add(checkPositive("rtmp.write_timeout", int64(c.RTMP.WriteTimeout)))
	add(checkPositive("rtmp.max_conns", int64(c.RTMP.MaxConns)))
	if c.RTMP.MaxMessageSize < 64<<10 || c.RTMP.MaxMessageSize > 64<<20 {
		add(invalid("rtmp.max_message_size", "must be between 65536 and 67108864, got %d", c.RTMP.MaxMessageSize))
	}
	add(checkPositive("stream.queue_packets", int64(c.Stream.QueuePackets)))
	add(checkPositive("stream.queue_bytes", int64(c.Stream.QueueBytes)))
	add(checkPositive("stream.gop_cache_bytes", int64(c.Stream.GOPCacheBytes)))
	if c.Stream.PublisherGrace < 0 {
		add(invalid("stream.publisher_grace", "must not be negative"))
	}
	if c.Stream.WriteMerge < 0 || c.Stream.WriteMerge > maxWriteMerge {
		add(invalid("stream.write_merge", "must be between 0 and %v, got %v", maxWriteMerge, c.Stream.WriteMerge))
	}
	if c.SharedObjects.Linger < 0 {
		add(invalid("shared_objects.linger", "must not be negative"))
	}
	add(checkPositive("shared_objects.snapshot_every", int64(c.SharedObjects.SnapshotEvery)))
	add(checkPositive("shared_objects.max_attributes", int64(c.SharedObjects.MaxAttributes)))
	add(checkPositive("shared_objects.max_value_bytes", int64(c.SharedObjects.MaxValueBytes)))
	add(checkPositive("shared_objects.max_object_bytes", int64(c.SharedObjects.MaxObjectBytes)))
	if c.SharedObjects.MaxObjectBytes > MaxObjectBytesLimit {
		// An object's snapshot (and a restore of it) is one log record.
		add(invalid("shared_objects.max_object_bytes", "at most %d (a snapshot of the object must fit in one 1,000,000-byte log record), got %d",
			MaxObjectBytesLimit, c.SharedObjects.MaxObjectBytes))
	}
	add(checkPositive("shared_objects.send_queue_bytes", int64(c.SharedObjects.SendQueueBytes)))
	for i, r := range c.SharedObjects.Policy {
		if r.Scope == "" {
			add(invalid("shared_objects.policy["+itoa(i)+"].scope", "must not be empty"))
		}
	}
	if c.Cluster.Replicas != 1 && c.Cluster.Replicas != 3 && c.Cluster.Replicas != 5 {
		add(invalid("cluster.replicas", "must be 1, 3 or 5, got %d", c.Cluster.Replicas))
	}
	if c.Cluster.EmbeddedAddr != "" {
		add(checkHostPort("cluster.embedded_addr", c.Cluster.EmbeddedAddr))
	}
	if c.Cluster.PresenceTTL < minPresenceTTL {
		add(invalid("cluster.presence_ttl", "must be at least %v, got %v", minPresenceTTL, c.Cluster.PresenceTTL))
	}
	if c.Manager.ReportInterval < time.Second {
		add(invalid("manager.report_interval", "must be at least 1s, got %s", c.Manager.ReportInterval))
	}
	add(checkPositive("manager.register_timeout", int64(c.Manager.RegisterTimeout)))
	if c.Manager.URL != "" && c.Manager.Secret == "" {
		add(invalid("manager.secret", "must be set when manager.url is set"))
	}
	add(checkPositive("relay.idle_timeout", int64(c.Relay.IdleTimeout)))
	add(checkPositive("relay.retry_min", int64(c.Relay.RetryMin)))
	if c.Relay.RetryMax < c.Relay.RetryMin {
		add(invalid("relay.retry_max", "must be at least relay.retry_min"))
	}
	add(checkOneOf("log.level", c.Log.Level, "debug", "info", "warn", "error"))
	add(checkOneOf("log.format", c.Log.Format, "text", "json"))
	return errors.Join(errs...)
}
