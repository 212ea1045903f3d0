package sipua

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// peerBinary finds a real peer's program. Without it the test is skipped,
// except in CI, where `make setup` must have installed it.
func peerBinary(t *testing.T, name, pkg string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if os.Getenv("CI") == "" {
		t.Skipf("%s is not installed (scripts/setup.sh installs Debian %s); skipping this interop test", name, pkg)
	}
	t.Fatalf("%s is not installed but CI is set: run make setup", name)
	return ""
}

// peerProc is a real peer running for a test, in its own process group.
type peerProc struct {
	name   string
	cmd    *exec.Cmd
	exited chan struct{}
	log    string
}

// startPeer runs bin with args in dir until the test ends; its output
// goes to a log shown when the test fails.
func startPeer(t *testing.T, name, bin, dir string, args ...string) *peerProc {
	t.Helper()
	logFile, err := os.Create(filepath.Join(t.TempDir(), name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	p := &peerProc{name: name, cmd: cmd, exited: make(chan struct{}), log: logFile.Name()}
	go func() { cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		p.stop()
		logFile.Close()
		if t.Failed() {
			if out, err := os.ReadFile(p.log); err == nil {
				t.Logf("%s log:\n%s", name, out)
			}
		}
	})
	return p
}

// stop ends the peer: SIGTERM to its group, SIGKILL after 3 s.
func (p *peerProc) stop() {
	select {
	case <-p.exited:
		return
	default:
	}
	syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(3 * time.Second):
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.exited
	}
}

// wait waits up to d for the peer to exit and returns its exit code.
func (p *peerProc) wait(t *testing.T, d time.Duration) int {
	t.Helper()
	select {
	case <-p.exited:
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(d):
		t.Fatalf("%s still running after %v", p.name, d)
		return -1
	}
}

// startListeningPeer starts a peer that listens on a loopback UDP port and
// waits until it does. args gives the command line for fresh ports and
// the port to watch; when the peer cannot bind (another process took the
// port since it was found free), it is started again on other ports.
func startListeningPeer(t *testing.T, name, bin, dir string, args func() ([]string, int)) *peerProc {
	t.Helper()
	for range 3 {
		argv, port := args()
		p := startPeer(t, name, bin, dir, argv...)
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			select {
			case <-p.exited:
				deadline = time.Time{}
				continue
			default:
			}
			if udpBound(port) {
				return p
			}
			time.Sleep(20 * time.Millisecond)
		}
		p.stop()
	}
	t.Fatalf("%s did not start listening", name)
	return nil
}

// udpBound reports whether a socket is bound to 127.0.0.1:port (or any
// address at port), by the kernel's table, without binding it ourselves.
func udpBound(port int) bool {
	data, err := os.ReadFile("/proc/net/udp")
	if err != nil {
		return false
	}
	suffix := fmt.Sprintf(":%04X", port)
	for line := range strings.Lines(string(data)) {
		f := strings.Fields(line)
		if len(f) > 1 && strings.HasSuffix(f[1], suffix) && (strings.HasPrefix(f[1], "0100007F") || strings.HasPrefix(f[1], "00000000")) {
			return true
		}
	}
	return false
}
