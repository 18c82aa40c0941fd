package api

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/shoal-live/shoal/internal/store"
)

// Errors the handlers return; writeError maps them (and store.ErrNotFound,
// store.ErrConflict) to statuses.
var (
	// errNoToken: the request carries no token (401).
	errNoToken = errors.New("missing access token")
	// errBadToken: the request carries a wrong token (403).
	errBadToken = errors.New("invalid access token")
	// errNoNodeInService: nothing can take the client right now (503).
	errNoNodeInService = errors.New("no node in service")
	// errUnavailable: a collaborator is not configured (503).
	errUnavailable = errors.New("unavailable")
)

// badRequestError is a request the server cannot accept as sent (400). Its
// message names the offending field or parameter.
type badRequestError struct{ msg string }

func (e *badRequestError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &badRequestError{msg: fmt.Sprintf(format, args...)}
}

// errorBody is the Red5 Pro error shape.
type errorBody struct {
	ErrorMessage string `json:"errorMessage"`
	Timestamp    int64  `json:"timestamp"`
}

// statusOf maps an error to its HTTP status.
func statusOf(err error) int {
	var bad *badRequestError
	switch {
	case errors.As(err, &bad):
		return http.StatusBadRequest
	case errors.Is(err, errNoToken):
		return http.StatusUnauthorized
	case errors.Is(err, errBadToken):
		return http.StatusForbidden
	case errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, store.ErrConflict):
		return http.StatusConflict
	case errors.Is(err, errNoNodeInService), errors.Is(err, errUnavailable):
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}

// writeError answers a failed request. Server errors are logged here, once,
// and their details are not sent to the client.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status := statusOf(err)
	msg := err.Error()
	if status == http.StatusInternalServerError {
		s.logger.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		msg = "internal error"
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="streammanager"`)
	}
	writeJSON(w, status, errorBody{ErrorMessage: msg, Timestamp: time.Now().UnixMilli()})
}
