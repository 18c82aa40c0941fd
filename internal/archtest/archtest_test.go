package archtest

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/shoal-live/shoal"

type pkg struct {
	ImportPath string
	Doc        string
	Imports    []string
	Deps       []string
	Standard   bool
}

func list(t *testing.T, patterns ...string) []pkg {
	t.Helper()
	args := append([]string{"list", "-json=ImportPath,Doc,Imports,Deps,Standard"}, patterns...)
	out, err := exec.Command("go", args...).Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []pkg
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

func TestEveryPackageHasADocComment(t *testing.T) {
	for _, p := range list(t, module+"/...") {
		if strings.HasPrefix(p.ImportPath, module+"/test/") {
			continue // test-only packages have no non-test files
		}
		if strings.TrimSpace(p.Doc) == "" {
			t.Errorf("%s has no package comment", p.ImportPath)
		}
	}
}

func TestLeafPackagesImportNothingInternal(t *testing.T) {
	leaves := map[string][]string{ // leaf → internal imports it may have
		"internal/config":         nil,
		"internal/flv":            nil,
		"internal/agentapi":       nil,
		"internal/provider":       nil,
		"internal/metrics":        nil,
		"internal/rtmp/amf":       nil,
		"internal/rtmp/chunk":     nil,
		"internal/rtmp/handshake": nil,
		"internal/rtmp/message":   {"internal/rtmp/amf", "internal/rtmp/chunk"},
		"internal/rtmp/somsg":     {"internal/rtmp/amf"},
		"internal/rtmp": {
			"internal/flv", "internal/rtmp/amf", "internal/rtmp/chunk",
			"internal/rtmp/handshake", "internal/rtmp/message",
		},
	}
	for _, p := range list(t, module+"/internal/...") {
		rel := strings.TrimPrefix(p.ImportPath, module+"/")
		allowed, isLeaf := leaves[rel]
		if !isLeaf {
			continue
		}
		for _, imp := range p.Imports {
			if !strings.HasPrefix(imp, module+"/") {
				continue
			}
			ok := false
			for _, a := range allowed {
				if imp == module+"/"+a {
					ok = true
				}
			}
			if !ok {
				t.Errorf("%s is a leaf but imports %s", rel, imp)
			}
		}
	}
}

func TestMediaNodeLinksNoControlPlane(t *testing.T) {
	banned := map[string]string{
		"database/sql":                     "media nodes keep no database",
		"modernc.org/sqlite":               "media nodes keep no database",
		"github.com/jackc/pgx":             "media nodes keep no database",
		module + "/internal/store":         "media nodes keep no database",
		module + "/internal/api":           "the REST API runs in the manager",
		module + "/internal/provider":      "providers run in the manager",
		module + "/internal/scaler":        "the autoscaler runs in the manager",
		module + "/internal/console":       "the console runs in the manager",
		module + "/internal/streammanager": "the manager is another binary",
		"github.com/chromedp":              "browsers are for tests",
	}
	p := list(t, module+"/cmd/shoal-node")[0]
	for _, dep := range p.Deps {
		for prefix, why := range banned {
			if dep == prefix || strings.HasPrefix(dep, prefix+"/") {
				t.Errorf("shoal-node depends on %s: %s", dep, why)
			}
		}
	}
}
