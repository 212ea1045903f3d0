package sitesim

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tandem-softphone/tandem/config"
	"github.com/tandem-softphone/tandem/internal/testutil"
	"github.com/tandem-softphone/tandem/wire"
)

// run runs the command in-process and returns its status and outputs.
func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut testutil.SyncBuffer
	code := Main(testutil.Context(t), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// ctl runs "sitesim ctl --addr ADDR args…", which must succeed.
func ctl(t *testing.T, s *Sim, args ...string) string {
	t.Helper()
	code, out, errOut := run(t, append([]string{"ctl", "--addr", s.ControlAddr()}, args...)...)
	if code != 0 {
		t.Fatalf("sitesim ctl %v: exit %d, stderr %q", args, code, errOut)
	}
	return out
}

// ctlFails runs a ctl command that must fail with that exit status and a
// message on stderr containing want.
func ctlFails(t *testing.T, s *Sim, status int, want string, args ...string) {
	t.Helper()
	code, out, errOut := run(t, append([]string{"ctl", "--addr", s.ControlAddr()}, args...)...)
	if code != status || !strings.Contains(errOut, want) || out != "" {
		t.Fatalf("sitesim ctl %v: exit %d, stdout %q, stderr %q; want exit %d with %q", args, code, out, errOut, status, want)
	}
}

// `sitesim --demo` prints one ready line naming every address, serves the
// control interface, and stops cleanly when its context ends (SIGINT).
func TestMainDemoReadyLine(t *testing.T) {
	t.Parallel()
	c, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut testutil.SyncBuffer
	exit := make(chan int, 1)
	go func() { exit <- Main(c, []string{"--demo", "--ephemeral", "--log-level", "error"}, &out, &errOut) }()
	testutil.Eventually(t, "ready line", func() bool { return strings.HasSuffix(out.String(), "\n") })
	line := strings.TrimSpace(out.String())
	if strings.Count(out.String(), "\n") != 1 || !strings.HasPrefix(line, "sitesim ready ") {
		t.Fatalf("output %q: want one ready line", out.String())
	}
	fields := map[string]string{}
	for _, f := range strings.Fields(strings.TrimPrefix(line, "sitesim ready ")) {
		k, v, _ := strings.Cut(f, "=")
		fields[k] = v
	}
	for _, k := range []string{"control", "ua-sip", "site1.config", "site1.tserver", "site1.stat", "site1.sip-udp", "site1.sip-tcp",
		"site2.config", "site2.tserver", "site2.stat", "site2.sip-udp", "site2.sip-tcp"} {
		if !strings.HasPrefix(fields[k], "127.0.0.1:") || strings.HasSuffix(fields[k], ":0") {
			t.Errorf("ready line %s=%q", k, fields[k])
		}
	}
	st, err := NewClient(fields["control"]).Status(testutil.Context(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Sites) != 2 || st.Sites[1].Servers[0].Addr != strings.Split(fields["site2.tserver"], ",")[0] {
		t.Fatalf("status %+v does not match the ready line %q", st, line)
	}
	cancel()
	select {
	case code := <-exit:
		if code != 0 {
			t.Fatalf("exit %d, stderr %q", code, errOut.String())
		}
	case <-time.After(testutil.Wait):
		t.Fatal("sitesim did not stop when its context ended")
	}
}

// `sitesim --demo --print-config` prints provisioning that the desktop's
// config loader accepts and that points at the demo ports.
func TestMainPrintConfig(t *testing.T) {
	t.Parallel()
	code, out, errOut := run(t, "--demo", "--print-config", "--user", "agent3", "--site2-tserver-primary", "7777")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	file := filepath.Join(t.TempDir(), "tandem.toml")
	if err := os.WriteFile(file, []byte(out), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := config.Load(config.LoadOptions{UserFile: file, NoDefaultFiles: true, Logger: quiet})
	if err != nil {
		t.Fatalf("the printed config does not load: %v\n%s", err, out)
	}
	if c.UserName != "agent3" || c.Sites[0].Application != DemoAppSite1 || c.Sites[1].DN != "6003" || c.Sites[1].Place != "Place_6003_B" {
		t.Fatalf("config %+v", c)
	}
	if got := c.Sites[1].TServer.Primary.String(); got != "127.0.0.1:7777" {
		t.Fatalf("site 2 T-Server primary %s, want the flag's 127.0.0.1:7777", got)
	}
	if got := c.Sites[0].ConfigServer.Backup.String(); got != "127.0.0.1:7011" {
		t.Fatalf("site 1 config backup %s, want the default 7011", got)
	}

	code, _, errOut = run(t, "--demo", "--print-config", "--ephemeral")
	if code != 1 || !strings.Contains(errOut, "no fixed port") {
		t.Fatalf("--print-config --ephemeral: exit %d, %q", code, errOut)
	}
	code, _, errOut = run(t, "--demo", "--print-config", "--user", "nobody")
	if code != 1 || !strings.Contains(errOut, "nobody") {
		t.Fatalf("--print-config --user nobody: exit %d, %q", code, errOut)
	}
}

func TestMainUsage(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		args   []string
		status int
		want   string
	}{
		{nil, 2, "give --demo"},
		{[]string{"--bogus"}, 2, "bogus"},
		{[]string{"--demo", "extra"}, 2, `unexpected argument "extra"`},
		{[]string{"--demo", "--site1-sip", "a:b:c"}, 2, "--site1-sip"},
		{[]string{"--demo", "--log-level", "loud"}, 2, "--log-level"},
		{[]string{"--help"}, 0, "Usage: sitesim --demo"},
		{[]string{"ctl", "--help"}, 0, "Usage: sitesim ctl"},
		{[]string{"ctl", "status", "--help"}, 0, "Usage: sitesim ctl"},
		{[]string{"ctl"}, 2, "a command is required"},
		{[]string{"ctl", "dance"}, 2, `unknown command "dance"`},
		{[]string{"ctl", "--nope", "status"}, 2, "nope"},
	} {
		code, _, errOut := run(t, c.args...)
		if code != c.status || !strings.Contains(errOut, c.want) {
			t.Errorf("sitesim %v: exit %d, stderr %q; want %d with %q", c.args, code, errOut, c.status, c.want)
		}
	}
}

// Every `sitesim ctl` command against a running simulator.
func TestCtlCommands(t *testing.T) {
	t.Parallel()
	s := startSim(t, func(o *Options) { o.AllowLoginOutOfService = true })

	t.Run("status", func(t *testing.T) {
		var st Status
		if err := json.Unmarshal([]byte(ctl(t, s, "status")), &st); err != nil || len(st.Sites) != 2 {
			t.Fatalf("status: %+v %v", st, err)
		}
		// --addr after the command works too.
		code, out, _ := run(t, "ctl", "status", "--addr", s.ControlAddr())
		if code != 0 || !strings.Contains(out, `"application": "Tandem_SiteB"`) {
			t.Fatalf("status --addr: %d %q", code, out)
		}
		ctlFails(t, s, 2, `unexpected argument "now"`, "status", "now")
	})

	t.Run("mwi", func(t *testing.T) {
		if out := ctl(t, s, "mwi", "5001", "2", "5"); !strings.Contains(out, "DN 5001: 2 new, 5 old") {
			t.Fatalf("mwi: %q", out)
		}
		s1 := site(t, s, 1)
		if got := s1.mwi.Counts("5001"); got.New != 2 || got.Old != 5 {
			t.Fatalf("site 1 mailbox 5001: %+v", got)
		}
		ctlFails(t, s, 2, "DN NEW OLD are required", "mwi", "5001", "2")
		ctlFails(t, s, 2, "not a message count", "mwi", "5001", "x", "1")
		ctlFails(t, s, 1, "no DN 4242", "mwi", "4242", "1", "0")
	})

	t.Run("expire-registration", func(t *testing.T) {
		s1 := site(t, s, 1)
		d := newDesk(t, s1)
		d.login("5003", "Place_5003_A", "1003")
		sipRegister(t, s1, "5003", 3600)
		d.waitEvent(wire.EventDNBackInService, "")
		out := ctl(t, s, "expire-registration", "--site", "1", "--dn", "5003")
		if !strings.Contains(out, "5003") {
			t.Fatalf("output %q", out)
		}
		d.waitEvent(wire.EventAgentLogout, wire.ReasonDRForceLogout) // BC-18
		ctlFails(t, s, 1, "404 Not Found: DN 5003 has no SIP registration at site 1", "expire-registration", "--site", "1", "--dn", "5003")
		ctlFails(t, s, 2, "--dn is required", "expire-registration", "--site", "1")
		ctlFails(t, s, 2, "--site 1 or --site 2 is required", "expire-registration", "--dn", "5003")
	})

	t.Run("force-logout", func(t *testing.T) {
		d := newDesk(t, site(t, s, 2))
		d.login("6004", "Place_6004_B", "1004")
		ctl(t, s, "force-logout", "--site", "2", "--agent", "1004", "--reason", "supervisor")
		d.waitEvent(wire.EventAgentLogout, "supervisor") // BC-17
		ctlFails(t, s, 1, "not logged in", "force-logout", "--site", "2", "--agent", "1004", "--reason", "supervisor")
		ctlFails(t, s, 2, "--reason is required", "force-logout", "--site", "2", "--agent", "1004")
		ctlFails(t, s, 2, "--agent is required", "force-logout", "--site", "2", "--reason", "x")
	})

	t.Run("graceful-shutdown", func(t *testing.T) {
		d := newDesk(t, site(t, s, 2))
		d.login("6001", "Place_6001_B", "1001")
		ctl(t, s, "graceful-shutdown", "--site", "2")
		d.waitEvent(wire.EventAgentLogout, wire.ReasonGracefulShutdownLogout) // BC-19
		if !siteStatus(t, s, 2).ShuttingDown {
			t.Fatal("site 2 not shutting down")
		}
		ctlFails(t, s, 2, "--site 1 or --site 2", "graceful-shutdown", "--site", "3")
	})

	t.Run("kill", func(t *testing.T) {
		ctl(t, s, "kill", "--site", "2", "--server", "stat-backup", "--mode", "blackhole")
		if m := serverStatus(t, s, 2, ServerStatBackup).Mode; m != "blackhole" {
			t.Fatalf("stat-backup is %s", m)
		}
		ctl(t, s, "kill", "--site", "2")
		for _, sv := range siteStatus(t, s, 2).Servers {
			if sv.Mode != "closed" {
				t.Errorf("kill --site 2: %s is %s", sv.Name, sv.Mode)
			}
		}
		ctlFails(t, s, 1, `unknown mode "gently"`, "kill", "--site", "2", "--mode", "gently")
	})

	t.Run("revive", func(t *testing.T) {
		ctl(t, s, "revive", "--site", "2", "--server", "config")
		if m := serverStatus(t, s, 2, ServerConfigBackup).Mode; m != "up" {
			t.Fatalf("config-backup is %s", m)
		}
		ctl(t, s, "revive", "--site", "2")
		st := siteStatus(t, s, 2)
		for _, sv := range st.Servers {
			if sv.Mode != "up" {
				t.Errorf("revive --site 2: %s is %s", sv.Name, sv.Mode)
			}
		}
		if st.ShuttingDown {
			t.Error("revive of the whole site left the graceful shutdown on")
		}
		ctlFails(t, s, 1, `unknown server "everything"`, "revive", "--site", "2", "--server", "everything")
	})

	t.Run("events", func(t *testing.T) {
		out := ctl(t, s, "events")
		lines := strings.Split(strings.TrimSpace(out), "\n")
		var last LogEntry
		for _, l := range lines {
			if err := json.Unmarshal([]byte(l), &last); err != nil {
				t.Fatalf("line %q: %v", l, err)
			}
		}
		if len(lines) < 5 || last.Seq != uint64(len(lines)) {
			t.Fatalf("%d events, last %+v", len(lines), last)
		}
		out = ctl(t, s, "events", "--since", "2")
		if n := strings.Count(out, "\n"); n != len(lines)-2 {
			t.Fatalf("--since 2: %d lines, want %d", n, len(lines)-2)
		}

		// --follow prints new events until interrupted.
		c, cancel := context.WithCancel(context.Background())
		defer cancel()
		var fout, ferr testutil.SyncBuffer
		exit := make(chan int, 1)
		go func() {
			exit <- Main(c, []string{"ctl", "--addr", s.ControlAddr(), "events", "--follow", "--since", strconv.FormatUint(last.Seq, 10)}, &fout, &ferr)
		}()
		// Repeat until the follower, which may not be connected yet, sees one.
		testutil.Eventually(t, "followed event", func() bool {
			site(t, s, 1).TServer().SetDNInService("5004", true, "")
			site(t, s, 1).TServer().SetDNInService("5004", false, "")
			return strings.Contains(fout.String(), wire.EventDNOutOfService)
		})
		cancel()
		select {
		case code := <-exit:
			if code != 0 {
				t.Fatalf("events --follow: exit %d, %q", code, ferr.String())
			}
		case <-time.After(testutil.Wait):
			t.Fatal("events --follow did not stop when interrupted")
		}
		ctlFails(t, s, 2, "since", "events", "--since", "minus-one")
	})

	t.Run("unreachable", func(t *testing.T) {
		code, _, errOut := run(t, "ctl", "--addr", "127.0.0.1:1", "status")
		if code != 1 || !strings.Contains(errOut, "status") {
			t.Fatalf("exit %d, %q", code, errOut)
		}
	})
}
