# Shoal: make help lists the targets.
SHELL := /bin/bash
GO ?= go
BIN := bin
# Fuzzing is bounded by executions, not seconds: with a duration, Go 1.26's
# fuzz coordinator can fail a target with a bare "context deadline exceeded"
# as the time runs out (go.dev/issue/75804, fixed in Go 1.27).
FUZZTIME ?= 20000x
LONG_FUZZTIME ?= 2000000x

.DEFAULT_GOAL := help

.PHONY: help
help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

.PHONY: build
build: ## build shoal and shoal-node into bin/
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN)/ ./cmd/...

.PHONY: run
run: build ## run a whole cluster on this machine (manager, embedded NATS, an origin and an edge)
	$(BIN)/shoal up

.PHONY: deps
deps: ## install what the tests need (ffmpeg, chromium, postgresql, nginx-rtmp) when missing
	scripts/test-deps.sh

.PHONY: test
test: deps build ## install test dependencies when missing, then run every test and a short fuzz pass
	scripts/with-postgres.sh $(GO) test -race -count=1 -timeout 30m ./...
	$(MAKE) fuzz FUZZTIME=$(FUZZTIME)

.PHONY: test-short
test-short: ## unit tests only, no external programs
	$(GO) test -short -count=1 ./...

.PHONY: fuzz
fuzz: ## run every fuzz target for FUZZTIME executions each (make fuzz FUZZTIME=500000x for a longer run)
	@set -e; for f in $$(grep -rl --include='*_test.go' '^func Fuzz' internal); do \
	  dir=$$(dirname $$f); \
	  for t in $$(grep -ho '^func Fuzz[A-Za-z0-9_]*' $$f | sed 's/^func //'); do \
	    echo "fuzz ./$$dir $$t ($(FUZZTIME))"; \
	    $(GO) test ./$$dir -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) >/tmp/fuzz-$$t.log 2>&1 || { cat /tmp/fuzz-$$t.log; exit 1; }; \
	  done; \
	done

.PHONY: fuzz-long
fuzz-long: ## run every fuzz target for LONG_FUZZTIME executions each
	$(MAKE) fuzz FUZZTIME=$(LONG_FUZZTIME)

.PHONY: bench
bench: ## run the Go micro-benchmarks
	$(GO) test -run '^$$' -bench . -benchmem ./internal/...

.PHONY: bench-fanout
bench-fanout: build ## fan-out benchmark against nginx-rtmp (see docs/benchmarks.md)
	bench/fanout.sh

.PHONY: lint
lint: ## run golangci-lint (pinned in go.mod)
	$(GO) tool golangci-lint run ./...

.PHONY: fix-lint
fix-lint: ## run golangci-lint with --fix
	$(GO) tool golangci-lint run --fix ./...

.PHONY: tidy
tidy: ## go mod tidy
	$(GO) mod tidy

.PHONY: check-tidy
check-tidy: ## fail if go.mod/go.sum are not tidy
	$(GO) mod tidy -diff

.PHONY: check
check: lint check-tidy test ## lint, tidy check and the whole test suite

.PHONY: clean
clean: ## remove build output
	rm -rf $(BIN)
