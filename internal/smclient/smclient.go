// Package smclient is a small Go client of the stream manager's REST API
// (Red5 Pro Stream Manager v4.0 shapes plus Shoal's own endpoints), used by
// the shoal command line and by tests.
//
// Admin calls send the token as "Authorization: Bearer"; the public event
// calls send none. A failed call returns an *APIError with the HTTP status
// and the server's errorMessage.
package smclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// BasePath is the prefix of every endpoint.
const BasePath = "/streammanager/api/4.0"

// maxBody bounds the answers the client reads.
const maxBody = 16 << 20

// APIError is a non-2xx answer.
type APIError struct {
	Status  int
	Message string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("stream manager answered %d %s: %s", e.Status, http.StatusText(e.Status), e.Message)
}

// IsStatus reports whether err is an *APIError with the given status.
func IsStatus(err error, status int) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Status == status
}

// Client calls one stream manager.
type Client struct {
	base  string
	token string
	hc    *http.Client
}

// New returns a client of the manager at baseURL (scheme, host and port,
// for example http://127.0.0.1:5080) using the admin token for admin
// calls. hc may be nil (a client with a 30 s timeout).
func New(baseURL, token string, hc *http.Client) *Client {
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	return &Client{base: strings.TrimRight(baseURL, "/"), token: token, hc: hc}
}

// BaseURL returns the manager's base URL.
func (c *Client) BaseURL() string { return c.base }

// Group is a node group.
type Group struct {
	ID           int64    `json:"id"`
	Name         string   `json:"name"`
	Regions      []string `json:"regions"`
	LaunchConfig string   `json:"launchConfig"`
	ScalePolicy  string   `json:"scalePolicy"`
	State        string   `json:"state"`
	Timestamp    int64    `json:"timestamp"`
}

// Node is a media node.
type Node struct {
	ID               int64  `json:"id"`
	Identifier       string `json:"identifier"`
	Role             string `json:"role"`
	Group            string `json:"group"`
	Region           string `json:"region"`
	AvailabilityZone string `json:"availabilityZone"`
	Address          string `json:"address"`
	RTMPPort         int    `json:"rtmpPort"`
	HTTPPort         int    `json:"httpPort"`
	// State is lower case: pending, running, inservice, terminating, fault.
	State        string `json:"state"`
	Draining     bool   `json:"draining"`
	LaunchConfig string `json:"launchConfig"`
	Capacity     int    `json:"capacity"`
}

// RTMPAddr returns address:rtmp_port.
func (n Node) RTMPAddr() string { return hostPort(n.Address, n.RTMPPort) }

// HTTPAddr returns address:http_port.
func (n Node) HTTPAddr() string { return hostPort(n.Address, n.HTTPPort) }

func hostPort(host string, port int) string {
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return host + ":" + strconv.Itoa(port)
}

// LaunchedNode is the answer to launching an origin.
type LaunchedNode struct {
	ID               int64  `json:"id"`
	Identifier       string `json:"identifier"`
	AvailabilityZone string `json:"availabilityZone"`
	Role             string `json:"role"`
	Group            string `json:"group"`
	RequestTime      int64  `json:"requestTime"`
}

// Endpoint is the answer to a broadcast or subscribe lookup.
type Endpoint struct {
	Name          string `json:"name"`
	Scope         string `json:"scope"`
	ServerAddress string `json:"serverAddress"`
	Region        string `json:"region"`
	RTMPURL       string `json:"rtmpUrl"`
	WSURL         string `json:"wsUrl"`
}

// StreamStats is the answer to GET /event/{scope}/{stream}/stats.
type StreamStats struct {
	Name               string `json:"name"`
	Scope              string `json:"scope"`
	ServerAddress      string `json:"serverAddress"`
	Region             string `json:"region"`
	CurrentSubscribers int    `json:"currentSubscribers"`
	StartTime          int64  `json:"startTime"`
}

// Alarm is a role's scale-out alarm.
type Alarm struct {
	ID         int64  `json:"id"`
	Type       string `json:"type"`
	Metric     string `json:"metric"`
	Unit       string `json:"unit"`
	Threshold  int    `json:"threshold"`
	Comparator string `json:"comparator"`
	TargetType string `json:"targetType"`
	Role       string `json:"role"`
}

// ScalingEvent is one action of the autoscaler (or one taken for an API
// call).
type ScalingEvent struct {
	ID      int64           `json:"id"`
	Group   string          `json:"group"`
	Role    string          `json:"role"`
	Action  string          `json:"action"`
	NodeID  string          `json:"node_id"`
	Reason  string          `json:"reason"`
	Details json.RawMessage `json:"details"`
	At      time.Time       `json:"at"`
}

// GroupStats is the answer to GET /admin/nodegroup/{group}/stats.
type GroupStats struct {
	TotalConnections      int `json:"totalConnections"`
	TargetTypeLoadSummary []struct {
		Type                  string `json:"type"`
		TotalNodeCount        int    `json:"totalNodeCount"`
		TotalActiveNodeCount  int    `json:"totalActiveNodeCount"`
		NetConnectionCapacity int    `json:"netConnectionCapacity"`
		NetConnectionLoad     int    `json:"netConnectionLoad"`
	} `json:"targetTypeLoadSummary"`
}

// Groups lists the node groups.
func (c *Client) Groups(ctx context.Context) ([]Group, error) {
	var out []Group
	err := c.do(ctx, http.MethodGet, "/admin/nodegroup", nil, true, nil, &out)
	return out, err
}

// Group returns one node group.
func (c *Client) Group(ctx context.Context, name string) (Group, error) {
	var out Group
	err := c.do(ctx, http.MethodGet, "/admin/nodegroup/"+url.PathEscape(name), nil, true, nil, &out)
	return out, err
}

// CreateGroup creates a node group; an empty name lets the manager choose
// one (group-<uuid>).
func (c *Client) CreateGroup(ctx context.Context, name string, regions []string, launchConfig, scalePolicy string) (Group, error) {
	body := map[string]any{"name": name, "regions": regions, "launchConfig": launchConfig, "scalePolicy": scalePolicy}
	var out Group
	err := c.do(ctx, http.MethodPost, "/admin/nodegroup", nil, true, body, &out)
	return out, err
}

// DeleteGroup deletes a node group (its nodes are terminated first).
func (c *Client) DeleteGroup(ctx context.Context, name string) (Group, error) {
	var out Group
	err := c.do(ctx, http.MethodDelete, "/admin/nodegroup/"+url.PathEscape(name), nil, true, nil, &out)
	return out, err
}

// RegionSize is the clients one region of a group must carry, for
// ResizeGroup.
type RegionSize struct {
	Region         string
	MinPublishers  int64
	MaxPublishers  int64
	MinSubscribers int64
	MaxSubscribers int64
}

// ResizedGroup is the answer to ResizeGroup: the group (its ScalePolicy
// names the policy it now uses) and what the resize did.
type ResizedGroup struct {
	Group
	Resize struct {
		// PolicyCreated is set when the group shared its scale policy with
		// the groups in SharedWith: they keep it, unchanged, and the group
		// now has a policy of its own.
		PolicyCreated  bool     `json:"policyCreated"`
		PreviousPolicy string   `json:"previousPolicy"`
		SharedWith     []string `json:"sharedWith"`
		// Region holds the limits set in each resized region.
		Region []struct {
			Name   string  `json:"name"`
			Target []Limit `json:"target"`
		} `json:"region"`
		// Total is the group's limits, the sums over its regions, which
		// the autoscaler applies.
		Total []Limit `json:"total"`
	} `json:"resize"`
}

// Limit is the node count bounds a resize set for a role.
type Limit struct {
	Role               string `json:"role"`
	MinLimit           int    `json:"minLimit"`
	MaxLimit           int    `json:"maxLimit"`
	ConnectionCapacity int    `json:"connectionCapacity"`
}

// ResizeGroup resizes a node group (Red5 Pro's PUT /admin/nodegroup/{group}):
// the manager computes each region's origin and edge limits from the
// client counts and the capacities of the group's launch configuration,
// and rewrites the group's scale policy.
func (c *Client) ResizeGroup(ctx context.Context, name string, sizes []RegionSize) (ResizedGroup, error) {
	type info struct {
		MinPublishers  int64 `json:"minPublishers"`
		MaxPublishers  int64 `json:"maxPublishers"`
		MinSubscribers int64 `json:"minSubscribers"`
		MaxSubscribers int64 `json:"maxSubscribers"`
	}
	type region struct {
		Name string `json:"name"`
		Info info   `json:"info"`
	}
	body := struct {
		Region []region `json:"region"`
	}{Region: []region{}}
	for _, s := range sizes {
		body.Region = append(body.Region, region{Name: s.Region, Info: info{s.MinPublishers, s.MaxPublishers, s.MinSubscribers, s.MaxSubscribers}})
	}
	var out ResizedGroup
	err := c.do(ctx, http.MethodPut, "/admin/nodegroup/"+url.PathEscape(name), nil, true, body, &out)
	return out, err
}

// GroupStats returns a group's load by role.
func (c *Client) GroupStats(ctx context.Context, name string) (GroupStats, error) {
	var out GroupStats
	err := c.do(ctx, http.MethodGet, "/admin/nodegroup/"+url.PathEscape(name)+"/stats", nil, true, nil, &out)
	return out, err
}

// Nodes lists the nodes of a group.
func (c *Client) Nodes(ctx context.Context, group string) ([]Node, error) {
	var out []Node
	err := c.do(ctx, http.MethodGet, "/admin/nodegroup/"+url.PathEscape(group)+"/node", nil, true, nil, &out)
	return out, err
}

// NodeMap returns the relations map of a group as text (ORIGINS → EDGES);
// with linkState, each link is marked ESTABLISHED or IDLE.
func (c *Client) NodeMap(ctx context.Context, group string, linkState bool) (string, error) {
	q := url.Values{}
	if linkState {
		q.Set("linkstate", "true")
	}
	var out bytes.Buffer
	err := c.do(ctx, http.MethodGet, "/admin/nodegroup/"+url.PathEscape(group)+"/node/map", q, true, nil, &out)
	return out.String(), err
}

// LaunchOrigin launches an origin in a group.
func (c *Client) LaunchOrigin(ctx context.Context, group string) (LaunchedNode, error) {
	var out LaunchedNode
	err := c.do(ctx, http.MethodPost, "/admin/nodegroup/"+url.PathEscape(group)+"/node/origin", nil, true, nil, &out)
	return out, err
}

// Node returns one node by identifier, host:rtmp_port or host.
func (c *Client) Node(ctx context.Context, addr string) (Node, error) {
	var out Node
	err := c.do(ctx, http.MethodGet, "/admin/node/"+url.PathEscape(addr), nil, true, nil, &out)
	return out, err
}

// TerminateNode terminates a node; without force it is drained first and
// must be in service.
func (c *Client) TerminateNode(ctx context.Context, addr string, force bool) (Node, error) {
	q := url.Values{}
	if force {
		q.Set("force", "true")
	}
	var out Node
	err := c.do(ctx, http.MethodDelete, "/admin/node/"+url.PathEscape(addr), q, true, nil, &out)
	return out, err
}

// Sunset drains the nodes, launches replacements and terminates them once
// their clients are gone.
func (c *Client) Sunset(ctx context.Context, addrs []string) ([]Node, error) {
	var out []Node
	err := c.do(ctx, http.MethodPost, "/admin/node/sunset", nil, true, addrs, &out)
	return out, err
}

// ScalePolicies lists the scale policy names.
func (c *Client) ScalePolicies(ctx context.Context) ([]string, error) {
	var out []string
	err := c.do(ctx, http.MethodGet, "/admin/configurations/scalepolicy", nil, true, nil, &out)
	return out, err
}

// ScalePolicy returns a scale policy document ({"policy": {...}}).
func (c *Client) ScalePolicy(ctx context.Context, name string) (json.RawMessage, error) {
	var out json.RawMessage
	err := c.do(ctx, http.MethodGet, "/admin/configurations/scalepolicy/"+url.PathEscape(name), nil, true, nil, &out)
	return out, err
}

// PutScalePolicy replaces the named scale policy with doc, or creates it
// when it does not exist.
func (c *Client) PutScalePolicy(ctx context.Context, name string, doc json.RawMessage) (json.RawMessage, error) {
	return c.putDoc(ctx, "/admin/configurations/scalepolicy", name, doc)
}

// LaunchConfigs lists the launch configuration names.
func (c *Client) LaunchConfigs(ctx context.Context) ([]string, error) {
	var out []string
	err := c.do(ctx, http.MethodGet, "/admin/configurations/launchconfig", nil, true, nil, &out)
	return out, err
}

// LaunchConfig returns a launch configuration document ({"launchconfig":
// {...}}).
func (c *Client) LaunchConfig(ctx context.Context, name string) (json.RawMessage, error) {
	var out json.RawMessage
	err := c.do(ctx, http.MethodGet, "/admin/configurations/launchconfig/"+url.PathEscape(name), nil, true, nil, &out)
	return out, err
}

// PutLaunchConfig replaces the named launch configuration with doc, or
// creates it when it does not exist.
func (c *Client) PutLaunchConfig(ctx context.Context, name string, doc json.RawMessage) (json.RawMessage, error) {
	return c.putDoc(ctx, "/admin/configurations/launchconfig", name, doc)
}

func (c *Client) putDoc(ctx context.Context, path, name string, doc json.RawMessage) (json.RawMessage, error) {
	var out json.RawMessage
	err := c.do(ctx, http.MethodPut, path+"/"+url.PathEscape(name), nil, true, doc, &out)
	if IsStatus(err, http.StatusNotFound) {
		out = nil
		err = c.do(ctx, http.MethodPost, path, nil, true, doc, &out)
	}
	return out, err
}

// Alarm returns the scale-out alarm of a role.
func (c *Client) Alarm(ctx context.Context, role string) (Alarm, error) {
	var out Alarm
	err := c.do(ctx, http.MethodGet, "/admin/alarm/scaleout/default", url.Values{"type": {role}}, true, nil, &out)
	return out, err
}

// SetAlarm sets the scale-out threshold (percent) of a role.
func (c *Client) SetAlarm(ctx context.Context, role string, threshold int) (Alarm, error) {
	var out Alarm
	q := url.Values{"type": {role}, "threshold": {strconv.Itoa(threshold)}}
	err := c.do(ctx, http.MethodPost, "/admin/alarm/scaleout/default", q, true, nil, &out)
	return out, err
}

// ScalingEventFilter selects scaling events; zero fields match all.
type ScalingEventFilter struct {
	Group string
	Since time.Time
	Limit int
}

// ScalingEvents returns scaling events, newest first.
func (c *Client) ScalingEvents(ctx context.Context, f ScalingEventFilter) ([]ScalingEvent, error) {
	q := url.Values{}
	if f.Group != "" {
		q.Set("group", f.Group)
	}
	if !f.Since.IsZero() {
		q.Set("since", strconv.FormatInt(f.Since.UnixMilli(), 10))
	}
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	var out []ScalingEvent
	err := c.do(ctx, http.MethodGet, "/admin/scalingevents", q, true, nil, &out)
	return out, err
}

// Broadcast asks where to publish scope/stream (an origin).
func (c *Client) Broadcast(ctx context.Context, scope, stream string) (Endpoint, error) {
	return c.lookup(ctx, scope, stream, "broadcast")
}

// Subscribe asks where to play scope/stream (an edge).
func (c *Client) Subscribe(ctx context.Context, scope, stream string) (Endpoint, error) {
	return c.lookup(ctx, scope, stream, "subscribe")
}

func (c *Client) lookup(ctx context.Context, scope, stream, action string) (Endpoint, error) {
	var out Endpoint
	err := c.do(ctx, http.MethodGet, eventPath(scope, stream), url.Values{"action": {action}}, false, nil, &out)
	return out, err
}

// StreamStats returns the origin, start time and subscriber count of a
// stream.
func (c *Client) StreamStats(ctx context.Context, scope, stream string) (StreamStats, error) {
	var out StreamStats
	err := c.do(ctx, http.MethodGet, eventPath(scope, stream)+"/stats", nil, false, nil, &out)
	return out, err
}

func eventPath(scope, stream string) string {
	var segs []string
	for s := range strings.SplitSeq(strings.Trim(scope, "/"), "/") {
		segs = append(segs, url.PathEscape(s))
	}
	return "/event/" + strings.Join(segs, "/") + "/" + url.PathEscape(stream)
}

// do sends one request: query q, a JSON body (a json.RawMessage is sent as
// is) and the admin token when admin is set. The answer is decoded into
// out, or copied into it when out is a *bytes.Buffer.
func (c *Client) do(ctx context.Context, method, path string, q url.Values, admin bool, body, out any) error {
	u := c.base + BasePath + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var rd io.Reader
	if body != nil {
		b, ok := body.(json.RawMessage)
		if !ok {
			var err error
			if b, err = json.Marshal(body); err != nil {
				return fmt.Errorf("%s %s: encode body: %w", method, path, err)
			}
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if admin && c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			ErrorMessage string `json:"errorMessage"`
		}
		msg := strings.TrimSpace(string(b))
		if json.Unmarshal(b, &e) == nil && e.ErrorMessage != "" {
			msg = e.ErrorMessage
		}
		return &APIError{Status: resp.StatusCode, Message: msg}
	}
	switch o := out.(type) {
	case nil:
		return nil
	case *bytes.Buffer:
		o.Write(b)
		return nil
	default:
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
		}
		return nil
	}
}
