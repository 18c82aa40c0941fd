package agentapi

// SharedObjectStat is one shared object in a report: how many clients of
// it (RTMP and WebSocket connections that use it) the reporting node has.
type SharedObjectStat struct {
	// Scope is the application scope path, for example "live/room1".
	Scope      string `json:"scope"`
	Name       string `json:"name"`
	Persistent bool   `json:"persistent"`
	Clients    int    `json:"clients"`
}
