package core

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tandem-softphone/tandem/continuity"
	"github.com/tandem-softphone/tandem/internal/testutil"
	"github.com/tandem-softphone/tandem/sipua"
	"github.com/tandem-softphone/tandem/sitesim"
	"github.com/tandem-softphone/tandem/sitesim/tsim"
	"github.com/tandem-softphone/tandem/wire"
)

// testLog is quiet unless TANDEM_TEST_LOG is set.
var testLog = testutil.Quiet()

func TestMain(m *testing.M) {
	if os.Getenv("TANDEM_TEST_LOG") != "" {
		testLog = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	// sipgo logs through the default logger.
	slog.SetDefault(testLog)
	os.Exit(m.Run())
}

// longWait bounds the waits for what takes a keep-alive detection plus a
// site-timeout: generous for -race on a loaded two-core machine.
const longWait = 15 * time.Second

// startSim runs the two demo sites on ephemeral loopback ports.
func startSim(t testing.TB, edit func(*sitesim.Options)) *sitesim.Sim {
	t.Helper()
	opts := sitesim.Options{
		Sites:        sitesim.EphemeralAddrs(),
		ControlAddr:  "127.0.0.1:0",
		StatInterval: 20 * time.Millisecond,
		Logger:       testLog,
	}
	if edit != nil {
		edit(&opts)
	}
	sim := sitesim.New(opts)
	if err := sim.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	return sim
}

func simSite(t *testing.T, sim *sitesim.Sim, n int) *sitesim.Site {
	t.Helper()
	s, err := sim.Site(n)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// setTimeouts sets both applications' site-timeout and
// site-sip-register-timeout in the simulator's directory (BC-7).
func setTimeouts(t *testing.T, sim *sitesim.Sim, siteTimeout, sipTimeout int) {
	t.Helper()
	for _, app := range []string{sitesim.DemoAppSite1, sitesim.DemoAppSite2} {
		for k, v := range map[string]int{wire.OptSiteTimeout: siteTimeout, wire.OptSIPRegisterTimeout: sipTimeout} {
			if err := sim.Dir().SetOption(app, wire.SectionAgentDesktop, k, fmt.Sprint(v)); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// testOptions are short timings against the simulator: keep-alive detects a
// blackholed server in well under a second, registrations last 2 s.
func testOptions(t testing.TB, sim *sitesim.Sim, user string) Options {
	t.Helper()
	cfg, err := sim.DesktopConfig(user)
	if err != nil {
		t.Fatal(err)
	}
	cfg.KeepAlive.Local = 300 * time.Millisecond
	cfg.KeepAlive.Remote = time.Second
	return Options{
		Config:         cfg,
		Logger:         testLog,
		MinBackoff:     100 * time.Millisecond,
		MaxBackoff:     500 * time.Millisecond,
		LinkMinBackoff: 50 * time.Millisecond,
		LinkMaxBackoff: 300 * time.Millisecond,
		RequestTimeout: 3 * time.Second,
		DNWait:         5 * time.Second,
		SIPExpires:     2 * time.Second,
		Endpoint: sipua.Options{
			MinBackoff:   100 * time.Millisecond,
			MaxBackoff:   time.Second,
			CloseTimeout: time.Second,
		},
		PreferredSiteCache: filepath.Join(t.TempDir(), "preferred-site.json"),
	}
}

// startCore starts a core for user against sim; edit adjusts its options.
func startCore(t *testing.T, sim *sitesim.Sim, user string, edit func(*Options)) *Core {
	t.Helper()
	opts := testOptions(t, sim, user)
	if edit != nil {
		edit(&opts)
	}
	return runCore(t, opts)
}

func runCore(t *testing.T, opts Options) *Core {
	t.Helper()
	c, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	c.Start(context.Background())
	t.Cleanup(c.Close)
	return c
}

// login logs the user in with the demo password and waits until the agent
// is logged in at site, registered at both sites.
func login(t *testing.T, c *Core, site int) {
	t.Helper()
	if err := c.Login(testutil.Context(t), "", sitesim.DemoPassword, 0); err != nil {
		t.Fatalf("Login: %v", err)
	}
	waitLoggedIn(t, c, site)
}

func waitLoggedIn(t *testing.T, c *Core, site int) State {
	t.Helper()
	return waitState(t, c, fmt.Sprintf("logged in at site %d, registered at both", site), func(s State) bool {
		return s.Phase == continuity.LoggedIn && s.Site == site && s.Agent.State != "" && s.Agent.State != wire.StateLoggedOut &&
			s.Sites[0].SIP.State == "registered" && s.Sites[1].SIP.State == "registered"
	})
}

// waitState polls the core's state until cond holds, and fails the test
// with the state seen last if it does not within longWait.
func waitState(t *testing.T, c *Core, what string, cond func(State) bool) State {
	t.Helper()
	deadline := time.Now().Add(longWait)
	for {
		s := c.Snapshot()
		if cond(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v; state:\n%s", what, longWait, dump(s))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// dump shows a state for a failure message.
func dump(s State) string {
	var b strings.Builder
	fmt.Fprintf(&b, "phase=%s site=%d preferred=%d agent=%+v\n", s.Phase, s.Site, s.Preferred, s.Agent)
	for i, st := range s.Sites {
		fmt.Fprintf(&b, "site%d: %+v\n", i+1, st)
	}
	fmt.Fprintf(&b, "countdowns=%+v login_error=%+v\n", s.Countdowns, s.LoginError)
	for _, n := range s.Notices {
		fmt.Fprintf(&b, "notice %s site%d: %s\n", n.Level, n.Site, n.Text)
	}
	for _, tl := range s.Timelines {
		fmt.Fprintf(&b, "timeline %s %q %d→%d dur=%v err=%q\n", tl.Kind, tl.Trigger, tl.From, tl.To, tl.Duration(), tl.Err)
		for _, st := range tl.Steps {
			fmt.Fprintf(&b, "  %s %s\n", st.At.Sub(tl.Started), st.Name)
		}
	}
	return b.String()
}

// simAgent returns the agent logged in at a simulated site, if any.
func simAgent(t *testing.T, sim *sitesim.Sim, site int, agentID string) (tsim.AgentState, bool) {
	t.Helper()
	for _, a := range simSite(t, sim, site).Status().Agents {
		if a.AgentID == agentID {
			return a, true
		}
	}
	return tsim.AgentState{}, false
}

// timelines returns the timelines of a kind.
func timelines(s State, kind string) []continuity.Timeline {
	var out []continuity.Timeline
	for _, tl := range s.Timelines {
		if tl.Kind == kind {
			out = append(out, tl)
		}
	}
	return out
}

// finished reports whether the last timeline of a kind finished without error.
func finished(s State, kind string) bool {
	tls := timelines(s, kind)
	return len(tls) > 0 && !tls[len(tls)-1].Finished.IsZero() && tls[len(tls)-1].Err == ""
}

func hasNotice(s State, level continuity.Level, substr string) bool {
	for _, n := range s.Notices {
		if n.Level == level && strings.Contains(n.Text, substr) {
			return true
		}
	}
	return false
}

// hasStep reports whether a timeline step names substr.
func hasStep(s State, substr string) bool {
	for _, tl := range s.Timelines {
		for _, st := range tl.Steps {
			if strings.Contains(st.Name, substr) {
				return true
			}
		}
	}
	return false
}
