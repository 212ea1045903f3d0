package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tandem-softphone/tandem/internal/testutil"
	"github.com/tandem-softphone/tandem/sitesim"
)

// binary is the desktop built once for every test of this file.
var binary string

func TestMain(m *testing.M) {
	flag.Parse()
	slog.SetDefault(testutil.Quiet())
	code := func() int {
		if testing.Short() {
			return m.Run()
		}
		dir, err := os.MkdirTemp("", "desktop-test-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		gobin, err := exec.LookPath("go")
		if err == nil {
			binary = filepath.Join(dir, "desktop")
			if out, err := exec.Command(gobin, "build", "-o", binary, ".").CombinedOutput(); err != nil {
				fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
				return 1
			}
		}
		return m.Run()
	}()
	os.Exit(code)
}

// waitLine bounds the wait for one line: a switchover or a re-launch after
// a 2 s registration interval, on a loaded machine.
const waitLine = 15 * time.Second

// desktopProc is the desktop running as a process, with its stdout read as
// JSON lines.
type desktopProc struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr *testutil.SyncBuffer
	exited chan error

	mu    sync.Mutex
	lines []map[string]any
	raw   strings.Builder
	next  int // lines before it were matched by await
}

func startDesktop(t *testing.T, args ...string) *desktopProc {
	t.Helper()
	if binary == "" {
		t.Skip("no desktop binary (-short, or no go command on PATH)")
	}
	home := t.TempDir()
	cmd := exec.Command(binary, args...)
	// No user configuration or cache of the machine's may leak in.
	cmd.Env = append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+home, "XDG_CACHE_HOME="+home, "TANDEM_PASSWORD=")
	p := &desktopProc{cmd: cmd, stderr: &testutil.SyncBuffer{}, exited: make(chan error, 1)}
	cmd.Stderr = p.stderr
	var err error
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var m map[string]any
			err := json.Unmarshal(sc.Bytes(), &m)
			p.mu.Lock()
			p.raw.WriteString(sc.Text() + "\n")
			if err == nil {
				p.lines = append(p.lines, m)
			} else {
				p.lines = append(p.lines, map[string]any{"event": "NOT JSON", "line": sc.Text()})
			}
			p.mu.Unlock()
		}
		p.exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() {
			t.Logf("stdout:\n%s\nstderr:\n%s", p.stdout(), p.stderr.String())
		}
	})
	return p
}

func (p *desktopProc) stdout() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.raw.String()
}

func (p *desktopProc) send(t *testing.T, line string) {
	t.Helper()
	if _, err := io.WriteString(p.stdin, line+"\n"); err != nil {
		t.Fatal(err)
	}
}

// await returns the next line, after those already matched, that matches.
func (p *desktopProc) await(t *testing.T, what string, match func(map[string]any) bool) map[string]any {
	t.Helper()
	deadline := time.Now().Add(waitLine)
	for {
		p.mu.Lock()
		for p.next < len(p.lines) {
			l := p.lines[p.next]
			p.next++
			if l["event"] == "NOT JSON" {
				p.mu.Unlock()
				t.Fatalf("stdout line is not JSON: %v", l["line"])
			}
			if match(l) {
				p.mu.Unlock()
				return l
			}
		}
		p.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatalf("no %s on stdout within %v", what, waitLine)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// wait waits for the process to end and returns its exit code.
func (p *desktopProc) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-p.exited:
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(waitLine):
		t.Fatal("the desktop did not exit")
		return -1
	}
}

// state asks for the whole state and returns it.
func (p *desktopProc) state(t *testing.T) map[string]any {
	t.Helper()
	p.send(t, `{"cmd":"state"}`)
	return p.await(t, "state", event("state"))["state"].(map[string]any)
}

// notAt tells why st is not logged in at site in that state, registered at
// both sites; "" when it is.
func notAt(st map[string]any, site int, agentState, reason string) string {
	agent, _ := st["agent"].(map[string]any)
	if st["phase"] != "logged-in" || st["site"] != float64(site) || agent["state"] != agentState || agent["reason"] != reason {
		return fmt.Sprintf("not logged in at site %d %s %s", site, agentState, reason)
	}
	sites, _ := st["sites"].([]any)
	for _, s := range sites {
		s, _ := s.(map[string]any)
		if reg, _ := s["registration"].(map[string]any); reg["state"] != "registered" {
			return fmt.Sprintf("BC-2: site %v not registered", s["site"])
		}
	}
	return ""
}

func event(name string, kv ...any) func(map[string]any) bool {
	return func(m map[string]any) bool {
		if m["event"] != name {
			return false
		}
		for i := 0; i+1 < len(kv); i += 2 {
			if fmt.Sprint(m[kv[i].(string)]) != fmt.Sprint(kv[i+1]) {
				return false
			}
		}
		return true
	}
}

// loggedIn waits until the agent is logged in at site, in agentState and
// registered at both sites, asking for the state until it is so: the lines
// that tell it may come in any order.
func loggedIn(t *testing.T, p *desktopProc, site int, agentState, reason string) {
	t.Helper()
	deadline := time.Now().Add(waitLine)
	for {
		st := p.state(t)
		why := notAt(st, site, agentState, reason)
		if why == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s; state %v", why, st)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startSimFor starts a simulator of the test's own, on ephemeral ports,
// whose agent1 has password, and writes the desktop's provisioning file
// for it (keep-alive every 500 ms) and the password file.
func startSimFor(t *testing.T, password string) (sim *sitesim.Sim, cfgFile, pwFile string) {
	t.Helper()
	dir := sitesim.Demo()
	person, _ := dir.Person("agent1")
	person.Password = password
	dir.AddPerson(person, sitesim.DemoSIPPassword)
	sim = sitesim.New(sitesim.Options{Dir: dir, Sites: sitesim.EphemeralAddrs(), ControlAddr: "127.0.0.1:0", Logger: testutil.Quiet()})
	if err := sim.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	cfg, err := sim.DesktopConfig("agent1")
	if err != nil {
		t.Fatal(err)
	}
	cfg.KeepAlive.Local = 500 * time.Millisecond
	toml, err := cfg.MarshalTOML()
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	cfgFile, pwFile = filepath.Join(tmp, "tandem.toml"), filepath.Join(tmp, "password")
	if err := os.WriteFile(cfgFile, toml, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pwFile, []byte(password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return sim, cfgFile, pwFile
}

// The headless desktop as a process against a simulator of the test's own:
// it logs in (BC-12) registered at both sites (BC-2), takes ready; a
// graceful shutdown of site 1 moves it to site 2, Ready (BC-19, BC-20,
// BC-23), with the switchover's duration; expire-registration brings the
// re-launch (BC-18). The password is never written out.
func TestHeadlessAgainstSim(t *testing.T) {
	const password = "Tz9-not-in-logs"
	sim, cfgFile, pwFile := startSimFor(t, password)

	p := startDesktop(t, "--headless", "--config", cfgFile, "--password-file", pwFile, "--sip-expires", "2s", "--log-level", "debug")
	p.await(t, "started line", event("started", "user", "agent1"))
	loggedIn(t, p, 1, "NotReady", "")

	p.send(t, `{"cmd":"ready","id":1}`)
	p.await(t, "ready reply", event("reply", "cmd", "ready", "id", 1, "ok", true))
	loggedIn(t, p, 1, "Ready", "")

	site1, err := sim.Site(1)
	if err != nil {
		t.Fatal(err)
	}
	site1.GracefulShutdown()
	started := p.await(t, "switchover-started", event("switchover-started", "from", 1, "to", 2))
	if !strings.Contains(started["reason"].(string), "graceful") {
		t.Fatalf("switchover reason %v", started["reason"])
	}
	fin := p.await(t, "switchover-finished", event("switchover-finished", "from", 1, "to", 2, "ok", true))
	if d, _ := fin["duration_ms"].(float64); d <= 0 {
		t.Fatalf("switchover duration %v", fin["duration_ms"])
	}
	loggedIn(t, p, 2, "Ready", "")

	p.send(t, `{"cmd":"expire-registration","site":2}`)
	p.await(t, "expire-registration reply", event("reply", "cmd", "expire-registration", "ok", true))
	p.await(t, "relaunch-started", event("relaunch-started", "from", 2, "to", 2))
	p.await(t, "relaunch-finished", event("relaunch-finished", "to", 2, "ok", true))
	loggedIn(t, p, 2, "Ready", "")

	p.send(t, `{"cmd":"quit"}`)
	p.await(t, "quit reply", event("reply", "cmd", "quit", "ok", true))
	if code := p.wait(t); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	site2, _ := sim.Site(2)
	if agents := site2.Status().Agents; len(agents) != 0 {
		t.Fatalf("still logged in at site 2 after quit: %+v", agents)
	}
	if strings.Contains(p.stdout(), password) || strings.Contains(p.stderr.String(), password) {
		t.Fatal("the password was written out")
	}
}

// desktop --demo: the simulated sites start in-process and demo agent1
// logs in; the control port takes commands and answers on its own
// connection; the simulator's control address drives a graceful shutdown;
// SIGTERM ends the run gracefully.
func TestHeadlessDemo(t *testing.T) {
	p := startDesktop(t, "--demo", "--ephemeral", "--headless", "--control", "127.0.0.1:0", "--sip-expires", "2s")
	hello := p.await(t, "started line", event("started", "user", "agent1"))
	control, _ := hello["control"].(string)
	demoControl, _ := hello["demo_control"].(string)
	if control == "" || demoControl == "" {
		t.Fatalf("started line %v", hello)
	}
	loggedIn(t, p, 1, "NotReady", "")

	conn, err := net.Dial("tcp", control)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	replies := make(chan map[string]any, 16)
	go func() {
		sc := bufio.NewScanner(conn)
		for sc.Scan() {
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) == nil && m["event"] == "reply" {
				replies <- m
			}
		}
		close(replies)
	}()
	if _, err := io.WriteString(conn, `{"cmd":"not-ready","reason":"Break","id":"c1"}`+"\n"); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-replies:
		if r["ok"] != true || r["id"] != "c1" {
			t.Fatalf("control reply %v", r)
		}
	case <-time.After(waitLine):
		t.Fatal("no reply on the control connection")
	}
	loggedIn(t, p, 1, "NotReady", "Break")

	ctx := testutil.Context(t)
	if err := sitesim.NewClient(demoControl).GracefulShutdown(ctx, 1); err != nil {
		t.Fatal(err)
	}
	p.await(t, "switchover-finished", event("switchover-finished", "from", 1, "to", 2, "ok", true))
	loggedIn(t, p, 2, "NotReady", "Break")

	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	p.await(t, "logged out", event("phase", "phase", "logged-out"))
	if code := p.wait(t); code != 0 {
		t.Fatalf("exit code %d", code)
	}
}

// Arguments it does not take and bad flag values are usage errors.
func TestUsage(t *testing.T) {
	var stderr testutil.SyncBuffer
	if code := run(context.Background(), []string{"--headless", "extra"}, strings.NewReader(""), io.Discard, &stderr); code != 2 {
		t.Fatalf("exit code %d, want 2; stderr: %s", code, stderr.String())
	}
	if code := run(context.Background(), []string{"--headless", "--log-level", "loud"}, strings.NewReader(""), io.Discard, &stderr); code != 2 {
		t.Fatalf("bad --log-level: exit code %d, want 2", code)
	}
}

// Without a display the window mode says why and exits 1; it does not let
// the window system's driver panic.
func TestNoDisplay(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("a display is a Unix desktop's environment variable")
	}
	t.Setenv("DISPLAY", "")
	t.Setenv("WAYLAND_DISPLAY", "")
	code, _, stderr := runArgs(t, "--demo", "--ephemeral")
	if code != 1 || !strings.Contains(stderr, "no display") || !strings.Contains(stderr, "--headless") {
		t.Fatalf("exit code %d, stderr %q", code, stderr)
	}
}
