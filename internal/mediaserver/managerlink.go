package mediaserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/shoal-live/shoal/internal/agent"
	"github.com/shoal-live/shoal/internal/agentapi"
	"github.com/shoal-live/shoal/internal/relay"
	"github.com/shoal-live/shoal/internal/stream"
	"github.com/shoal-live/shoal/internal/version"
)

// originLocator finds the RTMP URL of a stream on its origin (relay's
// locator interface, repeated so tests can set Server.locator).
type originLocator interface {
	Origin(ctx context.Context, key string) (string, error)
}

// startManagerLink builds the node agent (when manager.url is set) and, on
// an edge with an origin locator, the relay. It runs in Run once the
// listeners are open, before anything serves, so the ports are known.
func (s *Server) startManagerLink(rtmpAddr, httpAddr *net.TCPAddr) {
	if s.cfg.Manager.URL != "" {
		nodeID := s.cfg.Node.ID
		if s.idGenerated {
			nodeID = "" // a node started by hand: the manager adopts it
		}
		s.agent = agent.New(agent.Config{
			ManagerURL:     s.cfg.Manager.URL,
			Secret:         s.cfg.Manager.Secret,
			NodeID:         nodeID,
			Role:           s.cfg.Node.Role,
			Group:          s.cfg.Manager.Group,
			Host:           advertisedHost(s.cfg.Node.Host, rtmpAddr),
			RTMPPort:       rtmpAddr.Port,
			HTTPPort:       httpAddr.Port,
			Version:        version.String(),
			ReportInterval: s.cfg.Manager.ReportInterval,
			RequestTimeout: s.cfg.Manager.RegisterTimeout,
		}, nodeStats{s}, s.logger.With("component", "agent"))
		s.handler.draining = s.agent.Draining
		a := s.agent
		s.streams.OnChange(func(e stream.Event) {
			switch e.Type {
			case stream.EventPublish, stream.EventUnpublish, stream.EventRemove:
				a.Notify()
			case stream.EventSubscribers:
			}
		})
	}
	loc := s.locator
	if loc == nil && s.agent != nil {
		loc = agentLocator{s.agent}
	}
	if s.cfg.Node.Role == agentapi.RoleEdge && loc != nil {
		s.relay = relay.New(relay.Config{
			IdleTimeout: s.cfg.Relay.IdleTimeout,
			RetryMin:    s.cfg.Relay.RetryMin,
			RetryMax:    s.cfg.Relay.RetryMax,
		}, loc, s.streams, s.logger.With("component", "relay"))
		s.handler.relay = s.relay
	}
}

// advertisedHost is node.host, or the host of the RTMP listen address, or
// 127.0.0.1 when that is unspecified (0.0.0.0, ::).
func advertisedHost(configured string, rtmpAddr *net.TCPAddr) string {
	if configured != "" {
		return configured
	}
	if rtmpAddr.IP == nil || rtmpAddr.IP.IsUnspecified() {
		return "127.0.0.1"
	}
	return rtmpAddr.IP.String()
}

// agentLocator asks the stream manager, through the agent, where a stream
// is published.
type agentLocator struct{ a *agent.Agent }

func (l agentLocator) Origin(ctx context.Context, key string) (string, error) {
	scope, name := splitKey(key)
	if scope == "" {
		return "", fmt.Errorf("stream %q has no scope: %w", key, relay.ErrStreamNotFound)
	}
	resp, err := l.a.Origin(ctx, scope, name)
	if errors.Is(err, agent.ErrNotPublished) {
		return "", fmt.Errorf("%w: %w", relay.ErrStreamNotFound, err)
	}
	if err != nil {
		return "", err
	}
	return resp.RTMPURL, nil
}

// splitKey splits a stream key into scope ("live/room") and name.
func splitKey(key string) (scope, name string) {
	i := strings.LastIndexByte(key, '/')
	if i < 0 {
		return "", key
	}
	return key[:i], key[i+1:]
}

// nodeStats is what the agent reports, from the RTMP server, the stream
// registry, the WebSocket handler and the relay.
type nodeStats struct{ s *Server }

func (n nodeStats) Stats() agent.Stats {
	s := n.s
	rs := s.rtmp.Stats()
	st := agent.Stats{Connections: int(rs.Conns), BytesIn: rs.BytesIn, BytesOut: rs.BytesOut}
	if s.ws != nil {
		st.Connections += int(s.ws.Conns())
	}
	relaySubs := s.handler.relaySubscribers()
	for _, in := range s.streams.Streams() {
		// Edges pulling from this node are not its players, and a stream
		// this node pulls is not published here.
		subs := max(in.Subscribers-relaySubs[in.Key], 0)
		publishing := in.Publishing && (s.relay == nil || !s.relay.Pulling(in.Key))
		if publishing {
			st.Publishers++
		}
		st.Subscribers += subs
		scope, name := splitKey(in.Key)
		if scope == "" {
			continue // the manager files streams under a scope
		}
		st.Streams = append(st.Streams, agentapi.Stream{Scope: scope, Name: name, Publishing: publishing, Subscribers: subs})
	}
	if s.objects != nil {
		for _, c := range s.objects.Clients() {
			st.SharedObjects = append(st.SharedObjects, agentapi.SharedObjectStat{
				Scope: c.ID.Scope, Name: c.ID.Name, Persistent: c.ID.Persistent, Clients: c.Clients,
			})
		}
	}
	return st
}
