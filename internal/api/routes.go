package api

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
)

// access says who may call a route.
type access int

const (
	// public routes need no token (publisher and subscriber lookups).
	public access = iota + 1
	// admin routes need the admin token (?accessToken= or Bearer).
	admin
	// cluster routes need the cluster secret (Bearer), for node agents.
	cluster
)

// route is one endpoint: method and path under BasePath (Go ServeMux
// pattern syntax), who may call it, its handler, and the OpenAPI
// operations ("METHOD /path") it serves when they differ from the pattern.
type route struct {
	method string
	path   string
	access access
	handle func(w http.ResponseWriter, r *http.Request) error
	docs   []string
}

// routes is the route table: every endpoint of the API.
func (s *Server) routes() []route {
	return []route{
		// Publishers and subscribers (Red5 Pro).
		{method: "GET", path: "/event/list", access: public, handle: s.listEvents},
		{
			method: "GET", path: "/event/{path...}", access: public, handle: s.event,
			docs: []string{"GET /event/{scope}/{stream}", "GET /event/{scope}/{stream}/stats"},
		},

		// Node groups (Red5 Pro).
		{method: "POST", path: "/admin/nodegroup", access: admin, handle: s.createGroup},
		{method: "GET", path: "/admin/nodegroup", access: admin, handle: s.listGroups},
		{method: "GET", path: "/admin/nodegroup/{group}", access: admin, handle: s.getGroup},
		{method: "PUT", path: "/admin/nodegroup/{group}", access: admin, handle: s.resizeGroup},
		{method: "DELETE", path: "/admin/nodegroup/{group}", access: admin, handle: s.deleteGroup},
		{method: "GET", path: "/admin/nodegroup/{group}/stats", access: admin, handle: s.groupStats},
		{method: "POST", path: "/admin/nodegroup/{group}/node/origin", access: admin, handle: s.launchOrigin},
		{method: "GET", path: "/admin/nodegroup/{group}/node", access: admin, handle: s.listGroupNodes},
		{method: "GET", path: "/admin/nodegroup/{group}/node/origin", access: admin, handle: s.listGroupOrigins},
		{method: "GET", path: "/admin/nodegroup/{group}/node/edge", access: admin, handle: s.listGroupEdges},
		{method: "GET", path: "/admin/nodegroup/{group}/node/map", access: admin, handle: s.groupMap},
		{method: "GET", path: "/admin/nodegroup/{group}/node/relations", access: admin, handle: s.groupMap},

		// Nodes (Red5 Pro).
		{method: "POST", path: "/admin/node/sunset", access: admin, handle: s.sunsetNodes},
		{method: "GET", path: "/admin/node/{addr}", access: admin, handle: s.getNode},
		{method: "DELETE", path: "/admin/node/{addr}", access: admin, handle: s.terminateNode},
		{method: "GET", path: "/admin/node/{addr}/stats", access: admin, handle: s.nodeStats},

		// Scale policies (Red5 Pro).
		{method: "POST", path: "/admin/configurations/scalepolicy", access: admin, handle: s.createPolicy},
		{method: "GET", path: "/admin/configurations/scalepolicy", access: admin, handle: s.listPolicies},
		{method: "GET", path: "/admin/configurations/scalepolicy/{name}", access: admin, handle: s.getPolicy},
		{method: "PUT", path: "/admin/configurations/scalepolicy/{name}", access: admin, handle: s.updatePolicy},
		{method: "DELETE", path: "/admin/configurations/scalepolicy/{name}", access: admin, handle: s.deletePolicy},

		// Launch configurations (Red5 Pro).
		{method: "POST", path: "/admin/configurations/launchconfig", access: admin, handle: s.createLaunchConfig},
		{method: "GET", path: "/admin/configurations/launchconfig", access: admin, handle: s.listLaunchConfigs},
		{method: "GET", path: "/admin/configurations/launchconfig/{name}", access: admin, handle: s.getLaunchConfig},
		{method: "PUT", path: "/admin/configurations/launchconfig/{name}", access: admin, handle: s.updateLaunchConfig},
		{method: "DELETE", path: "/admin/configurations/launchconfig/{name}", access: admin, handle: s.deleteLaunchConfig},

		// Alarms (Red5 Pro).
		{method: "GET", path: "/admin/alarm/scaleout/default", access: admin, handle: s.getAlarm},
		{method: "POST", path: "/admin/alarm/scaleout/default", access: admin, handle: s.setAlarm},

		// Shoal's own.
		{method: "GET", path: "/admin/scalingevents", access: admin, handle: s.listScalingEvents},
		{method: "POST", path: "/cluster/register", access: cluster, handle: s.register},
		{method: "POST", path: "/cluster/report", access: cluster, handle: s.report},
		{method: "GET", path: "/cluster/origin", access: cluster, handle: s.clusterOrigin},
		{method: "GET", path: "/openapi.json", access: public, handle: s.openAPI},
	}
}

// handler wraps a route with its access check and error answer.
func (s *Server) handler(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var err error
		switch rt.access {
		case admin:
			err = checkToken(r, s.cfg.AdminToken, true)
		case cluster:
			err = checkToken(r, s.cfg.ClusterSecret, false)
		}
		if err == nil {
			err = rt.handle(w, r)
		}
		if err != nil {
			s.writeError(w, r, err)
		}
	})
}

// checkToken compares the request's token with want in constant time. The
// token comes from "Authorization: Bearer" or, when query is true, from
// the accessToken query parameter (the Red5 Pro way).
func checkToken(r *http.Request, want string, query bool) error {
	got, ok := bearer(r)
	if !ok && query {
		got, ok = r.URL.Query().Get("accessToken"), r.URL.Query().Has("accessToken")
	}
	if !ok || got == "" {
		return errNoToken
	}
	// Hash both sides so the comparison time does not depend on lengths.
	g, w := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want))
	if subtle.ConstantTimeCompare(g[:], w[:]) != 1 {
		return errBadToken
	}
	return nil
}

func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", false
	}
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	return strings.TrimSpace(token), true
}
