# Tandem: the two commands of the README are `make run` and `make test`.
GO        ?= go
GOBIN     := $(shell $(GO) env GOPATH)/bin
PKGS      := ./...
FUZZTIME  ?= 20s

.PHONY: setup build run test lint unit gui-test fuzz bench package clean

setup:
	@bash scripts/setup.sh

build: setup
	$(GO) build ./...

# Starts the desktop on the built-in demo sites, demo agent1 logged in.
run: setup
	$(GO) run ./cmd/desktop --demo

test: setup lint unit gui-test

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go') 2>/dev/null); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	$(GOBIN)/staticcheck $(PKGS)

# The race detector on everything; the fuzz corpora in testdata run as plain tests.
unit:
	$(GO) test -race -count=1 -timeout 20m $(PKGS)

# The GUI: Fyne's headless driver (-tags ci) with the golden images, which
# -race skips (the software painter is too slow under it); then the real
# window under Xvfb. No -race and no other flags than `go build`'s, so the
# cgo build of the GLFW driver (minutes, cold) is shared with the build.
# TestRealWindow* are the window on a fake backend, and on the real core
# against the simulator's own process (cmd/sitesim, built by the test).
# Its screenshots go to /tmp/tandem-screenshots, or to $TANDEM_SCREENSHOTS.
gui-test: setup
	$(GO) test -tags ci -count=1 ./gui/...
	$(GO) vet -tags xvfb ./gui/
	$(GOBIN)/staticcheck -tags xvfb ./gui/
	xvfb-run -a -s "-screen 0 1280x800x24" $(GO) test -tags xvfb -count=1 -run TestRealWindow -v ./gui/

# Explores each fuzz target for FUZZTIME; new crashers land in testdata.
fuzz:
	@bash scripts/fuzz.sh $(FUZZTIME)

bench: setup
	@bash scripts/bench.sh

# The Linux (.deb, tarball) and Windows (program, installer) packages and
# their SHA256SUMS, in dist/ (docs/admin-guide.md). TANDEM_SIGN_CERT and
# TANDEM_SIGN_KEY sign the Windows files.
package: setup
	@bash scripts/package.sh

clean:
	$(GO) clean -testcache
