package sharedobject

// ObjectClients is one object this node follows and how many local clients
// (RTMP connections and WebSockets) use it.
type ObjectClients struct {
	ID      ObjectID
	Clients int
}

// Clients returns, for every object this node follows, its number of local
// clients. The node agent reports it to the manager, whose console shows
// clients per node.
func (m *Manager) Clients() []ObjectClients {
	m.mu.Lock()
	objs := make([]*object, 0, len(m.mu.objects))
	for _, o := range m.mu.objects {
		if !o.unloading {
			objs = append(objs, o)
		}
	}
	m.mu.Unlock()
	out := make([]ObjectClients, 0, len(objs))
	for _, o := range objs {
		o.mu.Lock()
		n := len(o.listeners.list)
		o.mu.Unlock()
		out = append(out, ObjectClients{ID: o.id, Clients: n})
	}
	return out
}
