// Package api serves the stream manager's REST API: the Red5 Pro Stream
// Manager 1.x v4.0 shapes under /streammanager/api/4.0/ (publisher and
// subscriber lookups, node groups, nodes, scale policies, launch
// configurations, alarms), plus Shoal's own endpoints (scaling events, the
// node agent's register/report/origin calls and an OpenAPI document).
//
// routes.go is the single route table; errors.go is the only place that
// maps errors to HTTP statuses. Node selection for publishers and
// subscribers is done by Selector from an in-memory index fed by node
// reports; Monitor marks nodes that stop reporting as FAULT.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/shoal-live/shoal/internal/agentapi"
	"github.com/shoal-live/shoal/internal/store"
)

// BasePath is the prefix of every endpoint.
const BasePath = "/streammanager/api/4.0"

// nodeLauncher is the part of the autoscaler that acts on nodes for admin
// calls.
type nodeLauncher interface {
	// LaunchOrigin asks the cloud for a new origin in group and returns
	// its node record (PENDING).
	LaunchOrigin(ctx context.Context, group string) (store.Node, error)
	// Terminate terminates the node with the given identifier. force
	// skips draining.
	Terminate(ctx context.Context, nodeID string, force bool) error
	// Sunset drains the nodes with the given identifiers (they are marked
	// draining already), launches replacements and terminates them once
	// their clients are gone.
	Sunset(ctx context.Context, nodeIDs []string) error
}

// groupRemover removes a group whose state the API has set to deleting.
type groupRemover interface {
	// RemoveGroup terminates the group's nodes in the background and
	// deletes the group once they are gone. It returns without waiting.
	RemoveGroup(ctx context.Context, group string) error
}

// selector picks nodes for publishers and subscribers.
type selector interface {
	// Select returns the best nodes for q, best first.
	Select(ctx context.Context, q Query) ([]store.Node, error)
	// Origin returns the in-service node that publishes scope/name.
	Origin(ctx context.Context, scope, name string) (store.Node, error)
	// Observe feeds a node's report (with its streams) into the index.
	Observe(ctx context.Context, nodeID int64, r store.Report)
}

// Config is what the API needs. Store, Selector, AdminToken and
// ClusterSecret are required.
type Config struct {
	Store    *store.Store
	Selector selector
	// Launcher launches, terminates and sunsets nodes; nil answers those
	// calls with 503.
	Launcher nodeLauncher
	// GroupRemover deletes groups that have nodes; nil answers such
	// deletions with 503 (a group without nodes is deleted directly).
	GroupRemover groupRemover
	// AdminToken guards the admin endpoints (rest.administratorToken).
	AdminToken string
	// ClusterSecret guards the node agent endpoints (cluster.password).
	ClusterSecret string
	// ReportInterval is how often nodes report; default 10s.
	ReportInterval time.Duration
	// OnReport, if set, is called with every accepted node report and the
	// node's identifier (the console takes shared-object client counts from
	// it). It must not block.
	OnReport func(nodeID string, r agentapi.Report)
	Logger   *slog.Logger
}

// Server is the REST API as an http.Handler.
type Server struct {
	cfg     Config
	st      *store.Store
	sel     selector
	logger  *slog.Logger
	mux     *http.ServeMux
	openapi []byte
}

// New checks cfg and builds the handler.
func New(cfg Config) (*Server, error) {
	switch {
	case cfg.Store == nil:
		return nil, errors.New("api: Store is required")
	case cfg.Selector == nil:
		return nil, errors.New("api: Selector is required")
	case cfg.AdminToken == "":
		return nil, errors.New("api: AdminToken is required")
	case cfg.ClusterSecret == "":
		return nil, errors.New("api: ClusterSecret is required")
	}
	if cfg.ReportInterval <= 0 {
		cfg.ReportInterval = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	doc, err := openAPIJSON()
	if err != nil {
		return nil, fmt.Errorf("api: %w", err)
	}
	s := &Server{cfg: cfg, st: cfg.Store, sel: cfg.Selector, logger: cfg.Logger, mux: http.NewServeMux(), openapi: doc}
	for _, rt := range s.routes() {
		s.mux.Handle(rt.method+" "+BasePath+rt.path, s.handler(rt))
	}
	s.mux.HandleFunc(BasePath+"/", func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, fmt.Errorf("no endpoint %s %s: %w", r.Method, r.URL.Path, store.ErrNotFound))
	})
	return s, nil
}

// ServeHTTP serves the API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mux.ServeHTTP(w, r)
}

// writeJSON writes v as the JSON response body with the given status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"errorMessage":"encode response"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n')) // the client went away; nothing to do
}

// decodeJSON reads the request body into v: at most limit bytes, one JSON
// value, no unknown fields.
func decodeJSON(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var maxErr *http.MaxBytesError
		if errors.As(err, &maxErr) {
			return badRequest("request body larger than %d bytes", limit)
		}
		return badRequest("malformed JSON: %v", err)
	}
	if dec.More() {
		return badRequest("malformed JSON: more than one value in the body")
	}
	return nil
}

// bodyLimit is the largest JSON body accepted, except reports.
const bodyLimit = 1 << 20
