# Tandem: the two commands of the README are `make run` and `make test`.
GO        ?= go
GOBIN     := $(shell $(GO) env GOPATH)/bin
PKGS      := ./...
FUZZTIME  ?= 20s

.PHONY: setup build run test lint unit fuzz bench clean

setup:
	@bash scripts/setup.sh

build: setup
	$(GO) build ./...

# Starts the desktop on the built-in demo sites, demo agent1 logged in.
run: setup
	$(GO) run ./cmd/desktop --demo

test: setup lint unit

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go') 2>/dev/null); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	$(GOBIN)/staticcheck $(PKGS)

# The race detector on everything; the fuzz corpora in testdata run as plain tests.
unit:
	$(GO) test -race -count=1 -timeout 20m $(PKGS)

# Explores each fuzz target for FUZZTIME; new crashers land in testdata.
fuzz:
	@bash scripts/fuzz.sh $(FUZZTIME)

bench: setup
	@bash scripts/bench.sh

clean:
	$(GO) clean -testcache
