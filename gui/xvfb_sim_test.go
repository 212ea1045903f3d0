//go:build xvfb

// The real window on the real application core, against the two-site
// simulator run as its own process (cmd/sitesim, built by the test) and
// driven with its command-line client, `sitesim ctl`, as a tester would.

package gui

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"

	"github.com/tandem-softphone/tandem/audio"
	"github.com/tandem-softphone/tandem/config"
	"github.com/tandem-softphone/tandem/continuity"
	"github.com/tandem-softphone/tandem/core"
	"github.com/tandem-softphone/tandem/internal/testutil"
	"github.com/tandem-softphone/tandem/media/wav"
	"github.com/tandem-softphone/tandem/sipua"
	"github.com/tandem-softphone/tandem/sitesim"
	"github.com/tandem-softphone/tandem/wire"
)

// simProc is a running sitesim process and its control address.
type simProc struct {
	bin     string // the sitesim binary, for `sitesim ctl`
	control string
	// ready are the ready line's key=value pairs (site1.config=P,B, …).
	ready map[string]string
}

// buildSitesim builds cmd/sitesim into a temporary directory, with the
// same flags as the test binary's build so that the build cache serves it.
func buildSitesim(t *testing.T) string {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command builds the simulator: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "sitesim")
	run(t, gobin, "build", "-o", bin, "github.com/tandem-softphone/tandem/cmd/sitesim")
	return bin
}

// startSitesim runs `sitesim --demo --ephemeral` on loopback until the test
// ends (testutil.StartReady) and reads its ready line.
func startSitesim(t *testing.T, bin string) *simProc {
	t.Helper()
	logFile, err := os.Create(filepath.Join(t.TempDir(), "sitesim.log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { // after the process's stop
		defer logFile.Close()
		if t.Failed() {
			if log, err := os.ReadFile(logFile.Name()); err == nil {
				t.Logf("sitesim's log:\n%s", log)
			}
		}
	})
	cmd := exec.Command(bin, "--demo", "--ephemeral", "--log-level", "warn")
	cmd.Stderr = logFile
	line := testutil.StartReady(t, cmd)
	fields := strings.Fields(strings.TrimPrefix(line, "sitesim ready "))
	if !strings.HasPrefix(line, "sitesim ready ") || len(fields) == 0 {
		t.Fatalf("sitesim's first line: %q", line)
	}
	p := &simProc{bin: bin, ready: map[string]string{}}
	for _, f := range fields {
		k, v, _ := strings.Cut(f, "=")
		p.ready[k] = v
	}
	p.control = p.ready["control"]
	return p
}

// ctl runs `sitesim ctl` against the process and returns its output.
func (p *simProc) ctl(t *testing.T, args ...string) string {
	t.Helper()
	return strings.TrimSpace(run(t, p.bin, append([]string{"ctl", "--addr", p.control}, args...)...))
}

// desktopConfig is the desktop's provisioning for user, as `sitesim
// --print-config` prints it for the ports the running simulator bound.
func (p *simProc) desktopConfig(t *testing.T, user string) *config.Config {
	t.Helper()
	args := []string{"--demo", "--print-config", "--user", user, "--control", p.control}
	for site := 1; site <= 2; site++ {
		for _, srv := range []string{"config", "tserver", "stat"} {
			primary, backup, ok := strings.Cut(p.ready[fmt.Sprintf("site%d.%s", site, srv)], ",")
			if !ok {
				t.Fatalf("no site%d.%s pair in the ready line %v", site, srv, p.ready)
			}
			args = append(args, fmt.Sprintf("--site%d-%s-primary=%s", site, srv, primary),
				fmt.Sprintf("--site%d-%s-backup=%s", site, srv, backup))
		}
		args = append(args, fmt.Sprintf("--site%d-sip=%s", site, p.ready[fmt.Sprintf("site%d.sip-udp", site)]))
	}
	file := filepath.Join(t.TempDir(), "tandem.toml")
	if err := os.WriteFile(file, []byte(run(t, p.bin, args...)), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(config.LoadOptions{SystemFile: file, NoDefaultFiles: true, Logger: testutil.Quiet()})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// calls is `sitesim ctl calls`.
func (p *simProc) calls(t *testing.T) []sitesim.CallStatus {
	t.Helper()
	var out []sitesim.CallStatus
	if err := json.Unmarshal([]byte(p.ctl(t, "calls")), &out); err != nil {
		t.Fatalf("sitesim ctl calls: %v", err)
	}
	return out
}

// call is the simulator's call id, as `sitesim ctl calls` lists it.
func (p *simProc) call(t *testing.T, id string) sitesim.CallStatus {
	t.Helper()
	for _, c := range p.calls(t) {
		if c.ID == id {
			return c
		}
	}
	t.Fatalf("sitesim ctl calls lists no %s", id)
	return sitesim.CallStatus{}
}

// simAgent is where `sitesim ctl status` has an agent logged in.
type simAgent struct {
	Site  int
	DN    string
	State string
}

func (p *simProc) agent(t *testing.T, id string) (simAgent, bool) {
	t.Helper()
	var st struct {
		Sites []struct {
			Site   int `json:"site"`
			Agents []struct {
				AgentID string `json:"agent_id"`
				DN      string `json:"dn"`
				State   string `json:"state"`
			} `json:"agents"`
		} `json:"sites"`
	}
	if err := json.Unmarshal([]byte(p.ctl(t, "status")), &st); err != nil {
		t.Fatalf("sitesim ctl status: %v", err)
	}
	for _, s := range st.Sites {
		for _, a := range s.Agents {
			if a.AgentID == id {
				return simAgent{Site: s.Site, DN: a.DN, State: a.State}, true
			}
		}
	}
	return simAgent{}, false
}

// typeInto clicks an entry and types text into it with the X server's
// keyboard.
func typeInto(t *testing.T, u *UI, e fyne.CanvasObject, text string, got func() string) {
	t.Helper()
	click(t, u, e)
	run(t, "xdotool", "type", "--delay", "50", text)
	eventually(t, fmt.Sprintf("%q typed", text), func() bool {
		var s string
		fyne.DoAndWait(func() { s = got() })
		return s == text
	})
}

// onlyCall is the UI's row of the one call in progress.
func onlyCall(u *UI) *callRow {
	if len(u.main.calls.rows) != 1 {
		return nil
	}
	for _, r := range u.main.calls.rows {
		return r
	}
	return nil
}

// The agent logs in, goes Ready, answers a customer's call, hangs up, and
// is moved to the other site at a graceful shutdown: all by the mouse and
// keyboard on the real window, on the real core and SIP endpoint, against
// the simulator's process.
func TestRealWindowOnSimulator(t *testing.T) {
	sim := startSitesim(t, buildSitesim(t))
	cfg := sim.desktopConfig(t, "agent1")
	// The handshake's timeout is the local keep-alive's: short, for the
	// switchover below.
	cfg.KeepAlive.Local, cfg.KeepAlive.Remote = 3*time.Second, 6*time.Second

	prev := slog.Default()
	slog.SetDefault(testutil.Quiet()) // sipgo logs through the default logger
	t.Cleanup(func() { slog.SetDefault(prev) })
	// The speaker and the ring device are WAV files: what the agent heard
	// of the call, and the ringtone. The agent chose the ring device (the
	// preference the settings keep): with the WAV backend the default
	// device would be the speaker, which one stream at a time may hold.
	dir := t.TempDir()
	heard, rang := filepath.Join(dir, "heard.wav"), filepath.Join(dir, "rang.wav")
	realApp.Preferences().SetString(prefRing, audio.WAVRing)
	// The login remembers the user name: the other tests start without it.
	t.Cleanup(func() {
		realApp.Preferences().RemoveValue(prefRing)
		realApp.Preferences().RemoveValue(prefLastUser)
	})
	c, err := core.New(core.Options{
		Config:         cfg,
		Logger:         testutil.Quiet(),
		MinBackoff:     100 * time.Millisecond,
		MaxBackoff:     time.Second,
		LinkMinBackoff: 50 * time.Millisecond,
		LinkMaxBackoff: 500 * time.Millisecond,
		RequestTimeout: 5 * time.Second,
		DNWait:         10 * time.Second,
		Endpoint: sipua.Options{
			Audio:        audio.NewWAV(audio.WAVOptions{Speaker: heard, Ring: rang, Logger: testutil.Quiet()}),
			MinBackoff:   100 * time.Millisecond,
			MaxBackoff:   time.Second,
			CloseTimeout: time.Second,
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	c.Start(context.Background())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := c.Quit(ctx); err != nil {
			t.Logf("quit: %v", err)
		}
		c.Close()
	})

	realApp.Preferences().SetString(prefTheme, themeLight)
	var u *UI
	fyne.DoAndWait(func() {
		u = New(realApp, c, Options{Logger: testutil.Quiet()})
		u.Start()
		u.win.Show()
	})
	// Registered after the core's cleanup, so it runs before it.
	t.Cleanup(func() {
		fyne.DoAndWait(func() {
			u.Stop()
			u.win.Hide()
		})
	})

	// The login view, filled in by the keyboard; Log in by the mouse.
	shows(t, "the login view", func() bool { return u.win.Content() == u.login.content })
	fyne.DoAndWait(func() { u.login.user.SetText("") })
	typeInto(t, u, u.login.user, "agent1", func() string { return u.login.user.Text })
	typeInto(t, u, u.login.password, sitesim.DemoPassword, func() string { return u.login.password.Text })
	shows(t, "the login filled in", func() bool { return !u.login.button.Disabled() })
	screenshot(t, "sim_login.png")
	click(t, u, u.login.button)
	// BC-2, BC-12: logged in at site 1, registered at both sites.
	shows(t, "logged in at site 1, registered at both", func() bool {
		s := u.main.sites.sites
		return u.win.Content() == u.main.content && u.st.Phase == continuity.LoggedIn &&
			u.main.agent.state.title.Text == "Not Ready" && s[0].current.box.Visible() && !s[1].current.box.Visible() &&
			s[0].sip.status == lampOK && s[1].sip.status == lampOK
	})

	click(t, u, u.main.agent.ready)
	shows(t, "Ready", func() bool { return u.main.agent.state.title.Text == "Ready" })
	eventually(t, "agent 1001 Ready at site 1 in sitesim ctl status", func() bool {
		a, ok := sim.agent(t, "1001")
		return ok && a.Site == 1 && a.DN == "5001" && a.State == "Ready"
	})

	// A customer calls the agent's DN: the call rings in the window.
	simCall := sim.ctl(t, "call", "--to", "5001")
	var row *callRow
	shows(t, "the incoming call ringing", func() bool {
		row = onlyCall(u)
		return row != nil && u.main.calls.card.Visible() && row.answer.Visible() && row.reject.Visible() &&
			row.status.Text == "Incoming call · ringing"
	})
	screenshot(t, "sim_incoming_call.png")

	click(t, u, row.answer)
	// Audio flows both ways for a second (50 packets of 20 ms), as both
	// ends count it.
	shows(t, "the call connected", func() bool {
		return row.hangup.Visible() && !row.answer.Visible() && strings.HasPrefix(row.status.Text, "Incoming call · connected")
	})
	var callID string
	eventually(t, "audio flowing both ways for a second", func() bool {
		st := c.Snapshot()
		if len(st.Calls) != 1 || st.Calls[0].State != sipua.CallConnected || !st.Calls[0].HasMedia {
			return false
		}
		callID = st.Calls[0].ID
		s := st.Calls[0].Media.Stats
		sc := sim.call(t, simCall)
		return s.PacketsSent >= 50 && s.PacketsReceived >= 50 && sc.State == "connected" &&
			sc.PacketsSent >= 50 && sc.PacketsReceived >= 50
	})
	shows(t, "the call's quality and timer", func() bool { return row.quality.Text != "" && row.timer.Text != "" })
	screenshot(t, "sim_call_connected.png")

	click(t, u, row.hangup)
	shows(t, "no call in the window", func() bool { return !u.main.calls.card.Visible() && len(u.main.calls.rows) == 0 })
	st := c.Snapshot()
	if len(st.Calls) != 0 {
		t.Errorf("the core still has calls: %+v", st.Calls)
	}
	if n := len(st.CallHistory); n == 0 || st.CallHistory[n-1].ID != callID || st.CallHistory[n-1].EndReason != sipua.EndLocalHangup {
		t.Errorf("the core's history does not end with call %s hung up by us: %+v", callID, st.CallHistory)
	}
	eventually(t, "the customer's call ended by the agent's BYE in sitesim ctl calls", func() bool {
		sc := sim.call(t, simCall)
		return sc.State == "ended" && sc.Reason == "remote hangup"
	})
	// The speaker heard the customer's tone, not silence.
	// The ringtone rang, and the speaker played the customer's tone, not
	// silence, for the second at least.
	for _, rec := range []struct {
		what, file string
		samples    int
	}{{"the ringtone", rang, 1}, {"the customer's tone", heard, 8000}} {
		eventually(t, rec.what+" recorded", func() bool {
			_, pcm, err := wav.ReadFile(rec.file)
			return err == nil && len(pcm) >= rec.samples
		})
		if _, pcm, err := wav.ReadFile(rec.file); err != nil {
			t.Error(err)
		} else if lvl := audio.Level(pcm); lvl < -40 {
			t.Errorf("%s: %.1f dBFS in %s: silence", rec.what, lvl, rec.file)
		}
	}

	// BC-19: site 1 shuts down gracefully; the banner tells of the
	// switchover, and the agent is Ready at site 2 (BC-20, BC-23). The
	// simulator's switchover takes milliseconds: to show the banner during
	// it, site 2's T-Server primary answers nothing, so that the switchover
	// waits for the handshake's timeout before the backup takes it (BC-4).
	sim.ctl(t, "kill", "--site", "2", "--server", "tserver-primary", "--mode", "blackhole")
	sim.ctl(t, "graceful-shutdown", "--site", "1")
	// The agent card says where the agent is going, not "Logged out"; the
	// banner says why.
	shows(t, "the switchover under way", func() bool {
		return u.st.Phase == continuity.SwitchingOver && strings.HasPrefix(u.main.banner.title.Text, "Switching to Site\u00a02") &&
			strings.HasPrefix(u.main.agent.state.title.Text, "Moving to Site\u00a02") &&
			strings.HasPrefix(u.main.banner.detail.Text, "Why: graceful shutdown of site 1.")
	})
	screenshot(t, "sim_switching.png")
	fyne.DoAndWait(func() {
		if u.st.Phase != continuity.SwitchingOver {
			t.Logf("the switchover ended while the screenshot was taken: sim_switching.png may show its end")
		}
	})
	shows(t, "the switchover to site 2", func() bool {
		s := u.main.sites.sites
		return u.st.Phase == continuity.LoggedIn && s[1].current.box.Visible() && !s[0].current.box.Visible() &&
			u.main.agent.state.title.Text == "Ready" && strings.HasPrefix(u.main.banner.title.Text, "Now working at Site\u00a02") &&
			strings.HasPrefix(u.main.banner.detail.Text, "Why: graceful shutdown of site 1.") &&
			strings.HasPrefix(u.main.agent.statSite.Text, "at Site\u00a02")
	})
	screenshot(t, "sim_switched_site2.png")
	var detail string
	fyne.DoAndWait(func() { detail = u.main.agent.state.detail.Text })
	if !strings.Contains(detail, "DN 6001") {
		t.Errorf("the agent card says %q at site 2", detail)
	}
	eventually(t, "agent 1001 Ready at site 2 in sitesim ctl status", func() bool {
		a, ok := sim.agent(t, "1001")
		return ok && a.Site == 2 && a.DN == "6001" && a.State == "Ready"
	})
	if st := c.Snapshot(); st.Agent.State != wire.StateReady || st.Site != 2 {
		t.Errorf("the core: site %d agent %+v", st.Site, st.Agent)
	}
}
