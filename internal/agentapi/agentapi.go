// Package agentapi defines the JSON messages exchanged between the node
// agent (inside shoal-node) and the stream manager: registration, periodic
// load reports and the origin lookup an edge makes before pulling a stream.
//
// The package is a leaf: it imports only the standard library, so the media
// node can use it without linking anything of the control plane.
//
// Every request carries the cluster secret as "Authorization: Bearer
// <secret>". Failures are answered with a non-2xx status and an Error body.
package agentapi

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// Paths of the agent endpoints on the stream manager.
const (
	RegisterPath = "/streammanager/api/4.0/cluster/register"
	ReportPath   = "/streammanager/api/4.0/cluster/report"
	OriginPath   = "/streammanager/api/4.0/cluster/origin"
)

// Roles a node can have.
const (
	RoleOrigin     = "origin"
	RoleEdge       = "edge"
	RoleRelay      = "relay"
	RoleTranscoder = "transcoder"
	RoleAllInOne   = "allinone"
)

// RegisterRequest is sent by a node when it starts (and again whenever the
// manager answers a report with 404, for example after the manager lost its
// database).
type RegisterRequest struct {
	// NodeID is the identifier the manager gave the node when a provider
	// launched it (passed to the node by the provider). Empty for a node
	// started by hand: the manager then creates the node record.
	NodeID string `json:"node_id,omitempty"`
	// Role is the role the node wants; the manager's record wins when the
	// node was launched by a provider.
	Role string `json:"role"`
	// Group is the node group to join. Empty joins the only group, if there
	// is exactly one.
	Group string `json:"group,omitempty"`
	// Host is the address clients use to reach the node.
	Host     string `json:"host"`
	RTMPPort int    `json:"rtmp_port"`
	HTTPPort int    `json:"http_port"`
	// Region and Zone place a hand-started node; empty takes the group's
	// first region.
	Region  string `json:"region,omitempty"`
	Zone    string `json:"zone,omitempty"`
	Version string `json:"version,omitempty"`
}

// RegisterResponse tells a node who it is and how often to report.
type RegisterResponse struct {
	// NodeID identifies the node in reports.
	NodeID string `json:"node_id"`
	Role   string `json:"role"`
	Group  string `json:"group"`
	// Parents are the origins ("host:rtmp_port") an edge may pull from.
	Parents []string `json:"parents"`
	// ReportIntervalMS is the reporting interval in milliseconds. A node
	// that misses three intervals in a row is marked FAULT.
	ReportIntervalMS int64 `json:"report_interval_ms"`
}

// ReportInterval returns ReportIntervalMS as a duration.
func (r RegisterResponse) ReportInterval() time.Duration {
	return time.Duration(r.ReportIntervalMS) * time.Millisecond
}

// Report is a node's load, sent every reporting interval. The manager keeps
// only the latest report of each node.
type Report struct {
	NodeID string `json:"node_id"`
	// Connections counts every RTMP, HTTP and WebSocket client, including
	// edges pulling from this node.
	Connections int `json:"connections"`
	// Publishers counts publishing clients.
	Publishers int `json:"publishers"`
	// Subscribers counts playing clients, not counting edges pulling from
	// this node.
	Subscribers  int      `json:"subscribers"`
	BytesInPerS  int64    `json:"bytes_in_per_s"`
	BytesOutPerS int64    `json:"bytes_out_per_s"`
	CPU          float64  `json:"cpu"` // process CPU use, 0..1 per core summed
	MemoryBytes  int64    `json:"memory_bytes"`
	Streams      []Stream `json:"streams"`
	// SharedObjects lists the shared objects this node has clients of,
	// with their client counts (shown by the web console). Optional: a
	// node that sends none is shown by its presence only.
	SharedObjects []SharedObjectStat `json:"shared_objects,omitempty"`
}

// Stream is one live stream on the reporting node.
type Stream struct {
	// Scope is the application path without leading or trailing slashes,
	// for example "live" or "live/room1".
	Scope string `json:"scope"`
	Name  string `json:"name"`
	// Publishing is true where the stream is published (an origin); false
	// where it is pulled from another node (an edge).
	Publishing bool `json:"publishing"`
	// Subscribers counts players of this stream on this node, not counting
	// edges pulling it.
	Subscribers int `json:"subscribers"`
}

// ReportResponse answers a report with what the manager thinks of the node.
type ReportResponse struct {
	// State is the node's state in lower case (inservice, fault, …).
	State string `json:"state"`
	// Draining is true when the node must accept no new clients.
	Draining bool     `json:"draining"`
	Parents  []string `json:"parents"`
}

// OriginResponse tells an edge where a stream is published.
type OriginResponse struct {
	NodeID   string `json:"node_id"`
	Host     string `json:"host"`
	RTMPPort int    `json:"rtmp_port"`
	// RTMPURL is rtmp://host:port/scope/name.
	RTMPURL string `json:"rtmp_url"`
}

// Error is the body of every failed request (the Red5 Pro error shape).
type Error struct {
	Message   string `json:"errorMessage"`
	Timestamp int64  `json:"timestamp"`
}

// Error implements error.
func (e *Error) Error() string { return e.Message }

// RTMPURL builds rtmp://host:port/scope/name, the URL a client uses to reach
// a stream on a node.
func RTMPURL(host string, port int, scope, name string) string {
	scope = strings.Trim(scope, "/")
	if scope == "" {
		return fmt.Sprintf("rtmp://%s/%s", hostPort(host, port), name)
	}
	return fmt.Sprintf("rtmp://%s/%s/%s", hostPort(host, port), scope, name)
}

func hostPort(host string, port int) string {
	return net.JoinHostPort(host, strconv.Itoa(port))
}
