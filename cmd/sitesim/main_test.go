package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tandem-softphone/tandem/internal/testutil"
)

// The built command prints its ready line and exits 0 on SIGTERM.
func TestBinaryReadyAndSignal(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH")
	}
	bin := filepath.Join(t.TempDir(), "sitesim")
	build := exec.Command(gobin, "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "--demo", "--ephemeral", "--log-level", "error")
	cmd.Stderr = os.Stderr
	// The stop at the test's end checks the exit on SIGTERM.
	if line := testutil.StartReady(t, cmd); !strings.HasPrefix(line, "sitesim ready control=127.0.0.1:") {
		t.Fatalf("first line %q", line)
	}
}
