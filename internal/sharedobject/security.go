package sharedobject

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
)

// ConnInfo describes the client connection behind a request, for security
// checks and logs.
type ConnInfo struct {
	ID         string // connection id, unique on its node
	RemoteAddr string
	Transport  string // "rtmp" or "websocket"
	User       string // authenticated identity, if the application set one
}

// Security decides what clients may do with shared objects, like Red5's
// ISharedObjectSecurity. Every registered Security whose scope pattern
// matches is asked, and any false denies. Hooks run on the requester's
// node before anything is appended to the log; they must be quick and must
// not call the Manager.
type Security interface {
	// CreationAllowed is asked on every Use; its answer counts only if the
	// object does not exist when the Use takes its place in the object's
	// order. A denial answers Status ObjectCreationFailed.
	CreationAllowed(scope, name string, persistent bool, c ConnInfo) bool
	// ConnectAllowed is asked on every Use. A denial answers Status
	// NoReadAccess.
	ConnectAllowed(obj ObjectID, c ConnInfo) bool
	// WriteAllowed is asked for every RequestChange. A denial answers
	// Status NoWriteAccess.
	WriteAllowed(obj ObjectID, key string, value any, c ConnInfo) bool
	// DeleteAllowed is asked for every RequestRemove. A denial answers
	// Status NoWriteAccess.
	DeleteAllowed(obj ObjectID, key string, c ConnInfo) bool
	// SendAllowed is asked for every SendMessage. A denied message is
	// dropped silently, as Red5 does.
	SendAllowed(obj ObjectID, handler string, args []any, c ConnInfo) bool
}

// AllowAll is a Security that allows everything. Embed it to override only
// some hooks.
type AllowAll struct{}

var _ Security = AllowAll{}

// CreationAllowed implements Security.
func (AllowAll) CreationAllowed(string, string, bool, ConnInfo) bool { return true }

// ConnectAllowed implements Security.
func (AllowAll) ConnectAllowed(ObjectID, ConnInfo) bool { return true }

// WriteAllowed implements Security.
func (AllowAll) WriteAllowed(ObjectID, string, any, ConnInfo) bool { return true }

// DeleteAllowed implements Security.
func (AllowAll) DeleteAllowed(ObjectID, string, ConnInfo) bool { return true }

// SendAllowed implements Security.
func (AllowAll) SendAllowed(ObjectID, string, []any, ConnInfo) bool { return true }

// Policy locks shared objects down from configuration, without code. The
// first rule whose Scope matches an object's scope applies; with no
// matching rule everything is allowed (Red5's default).
type Policy struct {
	Rules []Rule
}

// Rule is the policy of the scopes its Scope pattern matches.
//
// Patterns are path.Match globs ("chat/*" matches "chat/lobby" but not
// "chat/a/b"); a pattern ending in "/**" also matches every scope below the
// prefix, and "" or "**" matches every scope.
type Rule struct {
	Scope string
	// Names are the object name patterns clients may use; empty means any.
	// Using another name answers NoReadAccess.
	Names []string
	// ReadOnly are name patterns of objects clients may use and send
	// messages on, but not change (NoWriteAccess).
	ReadOnly []string
	// Create says what clients may create: empty or "any" for every name
	// the rule allows, "none" for nothing (only server code creates
	// objects), otherwise name patterns.
	Create []string
}

// Create keywords.
const (
	CreateAny  = "any"
	CreateNone = "none"
)

// Validate checks the patterns of p.
func (p Policy) Validate() error {
	for i, r := range p.Rules {
		if err := checkPattern(strings.TrimSuffix(r.Scope, "/**")); err != nil {
			return fmt.Errorf("rules[%d].scope: %w", i, err)
		}
		for j, pat := range r.Names {
			if err := checkPattern(pat); err != nil {
				return fmt.Errorf("rules[%d].names[%d]: %w", i, j, err)
			}
		}
		for j, pat := range r.ReadOnly {
			if err := checkPattern(pat); err != nil {
				return fmt.Errorf("rules[%d].read_only[%d]: %w", i, j, err)
			}
		}
		for j, pat := range r.Create {
			if (pat == CreateAny || pat == CreateNone) && len(r.Create) > 1 {
				return fmt.Errorf("rules[%d].create[%d]: %q must be alone", i, j, pat)
			}
			if err := checkPattern(pat); err != nil {
				return fmt.Errorf("rules[%d].create[%d]: %w", i, j, err)
			}
		}
	}
	return nil
}

func checkPattern(p string) error {
	if _, err := path.Match(p, ""); err != nil {
		return fmt.Errorf("pattern %q: %w", p, err)
	}
	return nil
}

// matchScope reports whether scope matches pattern (see Rule).
func matchScope(pattern, scope string) bool {
	if pattern == "" || pattern == "**" {
		return true
	}
	if prefix, ok := strings.CutSuffix(pattern, "/**"); ok {
		if ok, _ := path.Match(prefix, scope); ok {
			return true
		}
		for i := len(scope) - 1; i >= 0; i-- {
			if scope[i] == '/' {
				if ok, _ := path.Match(prefix, scope[:i]); ok {
					return true
				}
			}
		}
		return false
	}
	ok, _ := path.Match(pattern, scope)
	return ok
}

func matchAny(patterns []string, name string) bool {
	return slices.ContainsFunc(patterns, func(p string) bool {
		ok, _ := path.Match(p, name)
		return ok
	})
}

// rule returns the rule for scope, or nil.
func (p *Policy) rule(scope string) *Rule {
	for i := range p.Rules {
		if matchScope(p.Rules[i].Scope, scope) {
			return &p.Rules[i]
		}
	}
	return nil
}

// policySecurity applies a Policy as a Security.
type policySecurity struct{ p Policy }

func (s policySecurity) CreationAllowed(scope, name string, _ bool, _ ConnInfo) bool {
	r := s.p.rule(scope)
	switch {
	case r == nil || len(r.Create) == 0 || r.Create[0] == CreateAny:
		return true
	case r.Create[0] == CreateNone:
		return false
	}
	return matchAny(r.Create, name)
}

func (s policySecurity) ConnectAllowed(obj ObjectID, _ ConnInfo) bool {
	r := s.p.rule(obj.Scope)
	return r == nil || len(r.Names) == 0 || matchAny(r.Names, obj.Name)
}

func (s policySecurity) WriteAllowed(obj ObjectID, _ string, _ any, _ ConnInfo) bool {
	return !s.readOnly(obj)
}

func (s policySecurity) DeleteAllowed(obj ObjectID, _ string, _ ConnInfo) bool {
	return !s.readOnly(obj)
}

func (s policySecurity) SendAllowed(ObjectID, string, []any, ConnInfo) bool { return true }

func (s policySecurity) readOnly(obj ObjectID) bool {
	r := s.p.rule(obj.Scope)
	return r != nil && matchAny(r.ReadOnly, obj.Name)
}

// securityEntry is a Security registered for a scope pattern.
type securityEntry struct {
	pattern string
	s       Security
}

// AddSecurity registers s for the scopes matching pattern (see Rule; ""
// matches every scope). Hooks are asked in registration order, after the
// configured Policy.
func (m *Manager) AddSecurity(pattern string, s Security) error {
	if err := checkPattern(strings.TrimSuffix(pattern, "/**")); err != nil {
		return fmt.Errorf("add security: %w", err)
	}
	if s == nil {
		return errors.New("add security: nil Security")
	}
	m.secMu.Lock()
	defer m.secMu.Unlock()
	m.security = append(slices.Clip(m.security), securityEntry{pattern: pattern, s: s})
	return nil
}

// allowed asks the policy and every Security registered for scope.
func (m *Manager) allowed(scope string, ask func(Security) bool) bool {
	if !ask(m.policy) {
		return false
	}
	m.secMu.RLock()
	hooks := m.security
	m.secMu.RUnlock()
	for _, h := range hooks {
		if matchScope(h.pattern, scope) && !ask(h.s) {
			return false
		}
	}
	return true
}
