package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/shoal-live/shoal/internal/agentapi"
)

// maxResponse bounds a response body read from the manager.
const maxResponse = 1 << 20

// responseError is a non-2xx answer of the manager.
type responseError struct {
	status  int
	message string // the errorMessage of the body, or the body's start
}

func (e *responseError) Error() string {
	return fmt.Sprintf("stream manager answered %d %s: %s", e.status, http.StatusText(e.status), e.message)
}

// isStatus reports whether err is a manager answer with the given status.
func isStatus(err error, status int) bool {
	var re *responseError
	return errors.As(err, &re) && re.status == status
}

func (a *Agent) register(ctx context.Context, req agentapi.RegisterRequest) (agentapi.RegisterResponse, error) {
	var resp agentapi.RegisterResponse
	if err := a.do(ctx, http.MethodPost, agentapi.RegisterPath, req, &resp); err != nil {
		return resp, fmt.Errorf("register: %w", err)
	}
	if resp.NodeID == "" {
		return resp, errors.New("register: manager answered without node_id")
	}
	return resp, nil
}

func (a *Agent) report(ctx context.Context, rep agentapi.Report) (agentapi.ReportResponse, error) {
	var resp agentapi.ReportResponse
	if err := a.do(ctx, http.MethodPost, agentapi.ReportPath, rep, &resp); err != nil {
		return resp, fmt.Errorf("report: %w", err)
	}
	return resp, nil
}

// do sends in (if not nil) as JSON to the manager's path with the cluster
// secret, and decodes a 2xx answer into out.
func (a *Agent) do(ctx context.Context, method, path string, in, out any) error {
	ctx, cancel := context.WithTimeout(ctx, a.cfg.RequestTimeout)
	defer cancel()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.cfg.ManagerURL+path, body)
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+a.cfg.Secret)
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.cfg.Client.Do(req)
	if err != nil {
		return err // names the method and URL
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return fmt.Errorf("read answer of %s %s: %w", method, path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		var e agentapi.Error
		msg := string(b[:min(len(b), 200)])
		if json.Unmarshal(b, &e) == nil && e.Message != "" {
			msg = e.Message
		}
		return &responseError{status: resp.StatusCode, message: msg}
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("decode answer of %s %s: %w", method, path, err)
	}
	return nil
}
