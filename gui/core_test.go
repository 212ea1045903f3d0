package gui

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"

	"github.com/tandem-softphone/tandem/continuity"
	"github.com/tandem-softphone/tandem/core"
	"github.com/tandem-softphone/tandem/internal/testutil"
	"github.com/tandem-softphone/tandem/sipua"
	"github.com/tandem-softphone/tandem/sitesim"
	"github.com/tandem-softphone/tandem/wire"
)

// The GUI on the real application core, against the two simulated sites on
// loopback. The test's goroutine plays the UI goroutine: it renders the
// core's snapshots itself, so that no other goroutine touches the widgets.
func TestWithCoreAndSimulator(t *testing.T) {
	slog.SetDefault(testutil.Quiet()) // sipgo logs through the default logger
	sim := sitesim.New(sitesim.Options{
		Sites:        sitesim.EphemeralAddrs(),
		ControlAddr:  "127.0.0.1:0",
		StatInterval: 20 * time.Millisecond,
		Logger:       testutil.Quiet(),
	})
	if err := sim.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	cfg, err := sim.DesktopConfig("agent1")
	if err != nil {
		t.Fatal(err)
	}
	cfg.KeepAlive.Local, cfg.KeepAlive.Remote = 300*time.Millisecond, time.Second
	c, err := core.New(core.Options{
		Config:             cfg,
		Logger:             testutil.Quiet(),
		MinBackoff:         100 * time.Millisecond,
		MaxBackoff:         500 * time.Millisecond,
		LinkMinBackoff:     50 * time.Millisecond,
		LinkMaxBackoff:     300 * time.Millisecond,
		RequestTimeout:     3 * time.Second,
		DNWait:             5 * time.Second,
		SIPExpires:         2 * time.Second,
		Endpoint:           sipua.Options{MinBackoff: 100 * time.Millisecond, MaxBackoff: time.Second, CloseTimeout: time.Second},
		PreferredSiteCache: filepath.Join(t.TempDir(), "preferred-site.json"),
	})
	if err != nil {
		t.Fatal(err)
	}
	c.Start(context.Background())
	t.Cleanup(c.Close)

	u := New(freshApp(t), c, Options{Logger: testutil.Quiet()})
	u.async = func(f func()) { f() }
	t.Cleanup(u.win.Close)
	// until renders the core's state until cond holds (15 s at most: a
	// keep-alive detection and a switchover under -race on two cores).
	until := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for {
			u.render(c.Snapshot())
			if cond() {
				return
			}
			if time.Now().After(deadline) {
				st := c.Snapshot()
				t.Fatalf("%s: not within 15 s; phase %s site %d agent %+v sites %+v", what, st.Phase, st.Site, st.Agent, st.Sites)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	// The login view names the configured sites.
	if want := fmt.Sprintf("Sites: %s and %s.", keepTogether("Site 1 · "+cfg.Sites[0].Name), keepTogether("Site 2 · "+cfg.Sites[1].Name)); !strings.Contains(u.login.sites.Text, want) {
		t.Errorf("login view says %q, want %q in it", u.login.sites.Text, want)
	}
	// A wrong password stays on the login view with the core's reason.
	u.login.user.SetText("agent1")
	test.Type(u.login.password, "wrong")
	test.Tap(u.login.button)
	until("the wrong password refused", func() bool { return u.login.errTitle.Text == "Wrong user name or password." })
	if u.win.Content() != u.login.content {
		t.Fatal("left the login view with a wrong password")
	}

	u.login.password.SetText(sitesim.DemoPassword)
	test.Tap(u.login.button)
	until("logged in at site 1, registered at both", func() bool {
		s := u.main.sites.sites
		return u.win.Content() == u.main.content && u.st.Phase == continuity.LoggedIn &&
			u.main.agent.state.title.Text == "Not Ready" && s[0].current.box.Visible() &&
			s[0].sip.status == lampOK && s[1].sip.status == lampOK
	})
	test.Tap(u.main.agent.ready)
	until("Ready", func() bool { return u.main.agent.state.title.Text == "Ready" })
	until("the statistic", func() bool { return u.main.agent.statVal.Text != "–" })

	// BC-19: site 1 shuts down gracefully; the agent is moved to site 2 and
	// is Ready there (BC-23), and the banner tells the outcome.
	site1, err := sim.Site(1)
	if err != nil {
		t.Fatal(err)
	}
	site1.GracefulShutdown()
	until("the switchover to site 2", func() bool {
		s := u.main.sites.sites
		return u.st.Phase == continuity.LoggedIn && s[1].current.box.Visible() && !s[0].current.box.Visible() &&
			u.main.agent.state.title.Text == "Ready" &&
			strings.HasPrefix(u.main.banner.title.Text, "Now working at Site\u00a02")
	})
	// Why the agent was moved: the banner and the notices say it.
	if want := "Why: graceful shutdown of site 1."; !strings.HasPrefix(u.main.banner.detail.Text, want) {
		t.Errorf("banner detail %q, want %q first", u.main.banner.detail.Text, want)
	}
	if markup := canvasText(u.win.Canvas()); !strings.Contains(markup, "moving to site 2 (graceful shutdown of site 1)") {
		t.Error("no notice says why the agent was moved")
	}
	if u.st.Agent.DN != "6001" || !strings.Contains(u.main.agent.state.detail.Text, "DN 6001") {
		t.Errorf("shows %q for DN %q at site 2", u.main.agent.state.detail.Text, u.st.Agent.DN)
	}

	test.Tap(u.main.agent.logout)
	until("the login view after logout", func() bool { return u.win.Content() == u.login.content })
	if u.login.errTitle.Visible() {
		t.Errorf("the agent's own logout shows %q", u.login.errTitle.Text)
	}
	if u.st.Agent.State != wire.StateLoggedOut && u.st.Phase != continuity.LoggedOut {
		t.Errorf("after logout: phase %s agent %+v", u.st.Phase, u.st.Agent)
	}
}
