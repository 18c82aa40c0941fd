package mediaserver

import (
	"github.com/shoal-live/shoal/internal/config"
	"github.com/shoal-live/shoal/internal/sharedobject"
)

func soPolicy(rules []config.SORule) sharedobject.Policy {
	var p sharedobject.Policy
	for _, r := range rules {
		p.Rules = append(p.Rules, sharedobject.Rule{Scope: r.Scope, Names: r.Names, ReadOnly: r.ReadOnly, Create: r.Create})
	}
	return p
}
