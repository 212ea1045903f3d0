package core

import (
	"errors"
	"strings"
	"testing"

	"github.com/tandem-softphone/tandem/continuity"
	"github.com/tandem-softphone/tandem/internal/testutil"
	"github.com/tandem-softphone/tandem/sitesim"
	"github.com/tandem-softphone/tandem/wire"
)

// BC-12, BC-2: the agent logs in at its preferred site with the real
// clients, and the endpoint registers at both sites' registrars. Ready and
// NotReady reach the T-Server; the statistic arrives.
func TestLoginReadyNotReady(t *testing.T) {
	sim := startSim(t, nil)
	c := startCore(t, sim, "agent1", nil)
	login(t, c, 1)

	s := c.Snapshot()
	if s.Agent.State != wire.StateNotReady || s.Agent.ID != "1001" || s.Agent.DN != "5001" || s.Preferred != 1 {
		t.Fatalf("after login: %+v preferred %d, want NotReady agent 1001 at DN 5001, preferred site 1", s.Agent, s.Preferred)
	}
	ctx := testutil.Context(t)
	if err := c.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	waitState(t, c, "Ready", func(s State) bool { return s.Agent.State == wire.StateReady })
	if err := c.NotReady(ctx, "Break"); err != nil {
		t.Fatal(err)
	}
	waitState(t, c, "NotReady Break", func(s State) bool { return s.Agent.State == wire.StateNotReady && s.Agent.Reason == "Break" })
	if a, ok := simAgent(t, sim, 1, "1001"); !ok || a.State != wire.StateNotReady || a.ReasonCode != "Break" {
		t.Fatalf("site 1 T-Server: %+v (logged in %v), want NotReady Break", a, ok)
	}
	if err := c.AfterCallWork(ctx); err != nil {
		t.Fatal(err)
	}
	waitState(t, c, "AfterCallWork", func(s State) bool { return s.Agent.State == wire.StateAfterCallWork })
	s = waitState(t, c, "services on and the statistic", func(s State) bool {
		st := s.Sites[0]
		return st.Telephony == ServiceOn && st.Configuration == ServiceOn && st.Statistic == ServiceOn && s.Statistic.Known
	})
	if s.Statistic.Name != wire.StatCallsHandledToday || s.Statistic.Site != 1 {
		t.Fatalf("statistic %+v, want site 1's %s", s.Statistic, wire.StatCallsHandledToday)
	}
	if st := s.Sites[1]; st.Telephony != ServiceNone || st.Configuration != ServiceNone {
		t.Fatalf("site 2 services %+v: the desktop holds sessions at one site only", st)
	}
	if _, ok := simAgent(t, sim, 2, "1001"); ok {
		t.Fatal("agent logged in at site 2 too (BC-2: one site at a time)")
	}
	if err := c.Login(ctx, "", sitesim.DemoPassword, 0); !errors.Is(err, ErrBusy) {
		t.Fatalf("second Login: %v, want ErrBusy", err)
	}
}

// A wrong password is refused with ErrAuth and not retried: the agent types it again.
func TestWrongPassword(t *testing.T) {
	sim := startSim(t, nil)
	c := startCore(t, sim, "agent1", nil)
	err := c.Login(testutil.Context(t), "", "wrong", 0)
	if !errors.Is(err, ErrAuth) {
		t.Fatalf("Login: %v, want ErrAuth", err)
	}
	s := waitState(t, c, "logged out with a login error", func(s State) bool {
		return s.Phase == continuity.LoggedOut && s.LoginError.Kind == ErrorAuth
	})
	if len(timelines(s, "switchover")) != 0 {
		t.Fatalf("switchover after a wrong password:\n%s", dump(s))
	}
	// The right password works after that.
	login(t, c, 1)
	if c.Snapshot().LoginError != (LoginError{}) {
		t.Fatal("login error kept after a successful login")
	}
}

// BC-9: the first site's Config Server is down: the desktop connects to the
// other site. agent2 prefers site 2, so it stays there.
func TestStartupFirstSiteDown(t *testing.T) {
	sim := startSim(t, nil)
	if err := simSite(t, sim, 1).Kill(sitesim.ServerConfig, sitesim.ModeClose); err != nil {
		t.Fatal(err)
	}
	c := startCore(t, sim, "agent2", nil)
	login(t, c, 2)
	s := c.Snapshot()
	if !hasNotice(s, continuity.Warning, "trying site 2") {
		t.Fatalf("no warning about site 1:\n%s", dump(s))
	}
	if _, ok := simAgent(t, sim, 2, "1002"); !ok {
		t.Fatal("agent 1002 not logged in at site 2")
	}
}

// BC-10: agent2 prefers site 2; the desktop connects to site 1 first and
// moves to site 2 with the switchover procedure. BC-11: the next start
// begins at the cached preferred site, without a move.
func TestStartupPreferredSite(t *testing.T) {
	sim := startSim(t, nil)
	opts := testOptions(t, sim, "agent2")
	c := runCore(t, opts)
	login(t, c, 2)
	s := c.Snapshot()
	if s.Preferred != 2 || !hasStep(s, "preferred site") {
		t.Fatalf("no move to the preferred site:\n%s", dump(s))
	}
	if _, ok := simAgent(t, sim, 1, "1002"); ok {
		t.Fatal("agent 1002 left logged in at site 1")
	}
	if err := c.Quit(testutil.Context(t)); err != nil {
		t.Fatal(err)
	}

	c2 := runCore(t, opts)
	login(t, c2, 2)
	for _, tl := range c2.Snapshot().Timelines {
		if tl.From == 1 || tl.To == 1 {
			t.Fatalf("BC-11: the cached preferred site was not used: %+v", tl)
		}
	}
}

// BC-19, BC-20, BC-23, BC-2: a graceful shutdown of the current site moves
// the agent to the other site at once, in the same state; the endpoint
// stays registered at both sites throughout.
func TestGracefulShutdownSwitchover(t *testing.T) {
	sim := startSim(t, nil)
	c := startCore(t, sim, "agent1", nil)
	login(t, c, 1)
	if err := c.Ready(testutil.Context(t)); err != nil {
		t.Fatal(err)
	}
	waitState(t, c, "Ready", func(s State) bool { return s.Agent.State == wire.StateReady })

	simSite(t, sim, 1).GracefulShutdown()
	s := waitState(t, c, "switched over to site 2, Ready", func(s State) bool {
		return s.Phase == continuity.LoggedIn && s.Site == 2 && s.Agent.State == wire.StateReady && finished(s, "switchover")
	})
	tl := timelines(s, "switchover")[0]
	if tl.From != 1 || tl.To != 2 || !strings.Contains(tl.Trigger, "graceful") || tl.Duration() <= 0 {
		t.Fatalf("switchover timeline %+v", tl)
	}
	// The notices say why the agent was moved.
	if !hasNotice(s, continuity.Info, "moving to site 2 (graceful shutdown of site 1)") {
		t.Fatalf("no notice of the switchover's trigger:\n%s", dump(s))
	}
	if s.Sites[0].SIP.State != "registered" || s.Sites[1].SIP.State != "registered" {
		t.Fatalf("BC-2: registrations after the switchover: %+v / %+v", s.Sites[0].SIP, s.Sites[1].SIP)
	}
	if a, ok := simAgent(t, sim, 2, "1001"); !ok || a.State != wire.StateReady {
		t.Fatalf("site 2 T-Server: %+v (logged in %v), want Ready", a, ok)
	}
	if s.Agent.DN != "6001" {
		t.Fatalf("agent DN %q at site 2, want 6001 (BC-3)", s.Agent.DN)
	}
	// Each site counts its own statistic: site 2's replaces site 1's.
	waitState(t, c, "site 2's statistic", func(s State) bool { return s.Statistic.Known && s.Statistic.Site == 2 })
}

// BC-18: the registration at the current site expires (the tester's
// expire-registration): SIP Server sends dr-force_logout, the endpoint is
// re-launched, EventDNBackInService follows and the agent is logged in
// again at the same site with its state.
func TestExpireRegistrationRelaunch(t *testing.T) {
	sim := startSim(t, nil)
	c := startCore(t, sim, "agent1", nil)
	login(t, c, 1)
	if err := c.NotReady(testutil.Context(t), "Lunch"); err != nil {
		t.Fatal(err)
	}
	waitState(t, c, "NotReady Lunch", func(s State) bool { return s.Agent.Reason == "Lunch" })

	if err := c.ExpireRegistration(1); err != nil {
		t.Fatal(err)
	}
	s := waitState(t, c, "re-launched and logged in again at site 1", func(s State) bool {
		return finished(s, "relaunch") && s.Phase == continuity.LoggedIn && s.Site == 1 &&
			s.Agent.State == wire.StateNotReady && s.Agent.Reason == "Lunch"
	})
	if !hasNotice(s, continuity.Warning, "re-launching") {
		t.Fatalf("no dr-force_logout warning:\n%s", dump(s))
	}
	if len(timelines(s, "switchover")) != 0 {
		t.Fatalf("switchover on a re-launch:\n%s", dump(s))
	}
	waitLoggedIn(t, c, 1)
	if a, ok := simAgent(t, sim, 1, "1001"); !ok || a.ReasonCode != "Lunch" {
		t.Fatalf("site 1 T-Server: %+v (logged in %v), want NotReady Lunch", a, ok)
	}
	if err := c.ExpireRegistration(3); err == nil {
		t.Fatal("ExpireRegistration(3) accepted")
	}
}

// BC-13: the telephony service (both T-Server members, blackholed) OFF for
// less than site-timeout: the countdown is cancelled and the agent stays;
// OFF for longer: switchover to the other site, in the same state.
func TestTelephonyOutage(t *testing.T) {
	sim := startSim(t, nil)
	setTimeouts(t, sim, 2, 30)
	c := startCore(t, sim, "agent1", nil)
	login(t, c, 1)
	if err := c.Ready(testutil.Context(t)); err != nil {
		t.Fatal(err)
	}
	waitState(t, c, "Ready", func(s State) bool { return s.Agent.State == wire.StateReady })
	site1 := simSite(t, sim, 1)

	// Shorter than site-timeout.
	if err := site1.Kill(sitesim.ServerTServer, sitesim.ModeBlackhole); err != nil {
		t.Fatal(err)
	}
	waitState(t, c, "telephony OFF with a switchover countdown", func(s State) bool {
		return s.Sites[0].Telephony == ServiceOff && len(s.Countdowns) == 1 && s.Countdowns[0].What == "switchover"
	})
	if err := site1.Revive(sitesim.ServerTServer); err != nil {
		t.Fatal(err)
	}
	s := waitState(t, c, "telephony back, countdown cancelled", func(s State) bool {
		return s.Sites[0].Telephony == ServiceOn && len(s.Countdowns) == 0
	})
	if s.Phase != continuity.LoggedIn || s.Site != 1 || len(timelines(s, "switchover")) != 0 {
		t.Fatalf("short outage moved the agent:\n%s", dump(s))
	}

	// Longer than site-timeout.
	if err := site1.Kill(sitesim.ServerTServer, sitesim.ModeBlackhole); err != nil {
		t.Fatal(err)
	}
	s = waitState(t, c, "switched over to site 2", func(s State) bool {
		return finished(s, "switchover") && s.Phase == continuity.LoggedIn && s.Site == 2 && s.Agent.State == wire.StateReady
	})
	if tl := timelines(s, "switchover")[0]; !strings.Contains(tl.Trigger, "telephony") {
		t.Fatalf("trigger %q", tl.Trigger)
	}
	if s.Sites[0].SIP.State != "registered" {
		t.Fatalf("BC-2: site 1 registration %+v", s.Sites[0].SIP)
	}
}

// BC-14, BC-15: the configuration or statistic service OFF warns and
// raises an alarm, and never moves the agent.
func TestConfigAndStatOutage(t *testing.T) {
	sim := startSim(t, nil)
	c := startCore(t, sim, "agent1", nil)
	login(t, c, 1)
	site1 := simSite(t, sim, 1)
	waitState(t, c, "statistic ON", func(s State) bool { return s.Sites[0].Statistic == ServiceOn })

	for _, tc := range []struct {
		server sitesim.Server
		name   string
		status func(SiteState) ServiceStatus
	}{
		{sitesim.ServerConfig, "configuration", func(s SiteState) ServiceStatus { return s.Configuration }},
		{sitesim.ServerStat, "statistic", func(s SiteState) ServiceStatus { return s.Statistic }},
	} {
		if err := site1.Kill(tc.server, sitesim.ModeClose); err != nil {
			t.Fatal(err)
		}
		s := waitState(t, c, tc.name+" OFF with an alarm", func(s State) bool {
			return tc.status(s.Sites[0]) == ServiceOff && hasNotice(s, continuity.Alarm, tc.name+" service is unavailable")
		})
		// The engine decides in the same step that raises the alarm: a
		// switchover, now or later, would show as a phase or a countdown.
		if len(s.Countdowns) != 0 || s.Phase != continuity.LoggedIn || s.Site != 1 || len(timelines(s, "switchover")) != 0 {
			t.Fatalf("%s OFF moved the agent:\n%s", tc.name, dump(s))
		}
		if err := site1.Revive(tc.server); err != nil {
			t.Fatal(err)
		}
		waitState(t, c, tc.name+" back", func(s State) bool {
			return tc.status(s.Sites[0]) == ServiceOn && hasNotice(s, continuity.Cleared, tc.name+" service is back")
		})
	}
}

// BC-17: a supervisor's logout, with a reason: nothing more happens; the
// reason shows.
func TestSupervisorLogout(t *testing.T) {
	sim := startSim(t, nil)
	c := startCore(t, sim, "agent1", nil)
	login(t, c, 1)
	if err := simSite(t, sim, 1).ForceLogout("agent1", "supervisor_break"); err != nil {
		t.Fatal(err)
	}
	s := waitState(t, c, "logged out by the supervisor", func(s State) bool {
		return s.Phase == continuity.LoggedOut && s.Agent.State == wire.StateLoggedOut && s.Agent.Reason == "supervisor_break"
	})
	if !hasNotice(s, continuity.Warning, "supervisor_break") || len(s.Countdowns) != 0 {
		t.Fatalf("after the supervisor's logout:\n%s", dump(s))
	}
	if err := c.Ready(testutil.Context(t)); !errors.Is(err, ErrNotLoggedIn) {
		t.Fatalf("Ready after logout: %v", err)
	}
	// The agent logs in again by hand.
	login(t, c, 1)
}

// BC-24: the agent's own switch moves it, and logs it out at the site left:
// it is never logged in at two sites. BC-16: its own logout ends everything.
func TestSwitchSiteAndLogout(t *testing.T) {
	sim := startSim(t, nil)
	c := startCore(t, sim, "agent1", nil)
	login(t, c, 1)
	if err := c.SwitchSite(); err != nil {
		t.Fatal(err)
	}
	s := waitState(t, c, "at site 2", func(s State) bool {
		return finished(s, "switchover") && s.Phase == continuity.LoggedIn && s.Site == 2
	})
	if tl := timelines(s, "switchover")[0]; tl.Trigger != "the agent asked" {
		t.Fatalf("trigger %q", tl.Trigger)
	}
	if _, ok := simAgent(t, sim, 1, "1001"); ok {
		t.Fatal("still logged in at site 1 after the switch")
	}
	if err := c.Logout(testutil.Context(t)); err != nil {
		t.Fatal(err)
	}
	s = c.Snapshot()
	if s.Phase != continuity.LoggedOut || s.Sites[1].Telephony != ServiceNone {
		t.Fatalf("after logout:\n%s", dump(s))
	}
	if _, ok := simAgent(t, sim, 2, "1001"); ok {
		t.Fatal("still logged in at site 2 after Logout")
	}
	if s.Sites[0].SIP.State != "registered" {
		t.Fatal("the endpoint stopped registering at Logout")
	}
}

// Quit logs out and un-registers at both sites.
func TestQuit(t *testing.T) {
	sim := startSim(t, nil)
	c := startCore(t, sim, "agent1", nil)
	login(t, c, 1)
	if err := c.Quit(testutil.Context(t)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.Done():
	default:
		t.Fatal("Done not closed after Quit")
	}
	if _, ok := simAgent(t, sim, 1, "1001"); ok {
		t.Fatal("still logged in after Quit")
	}
	for site := 1; site <= 2; site++ {
		testutil.Eventually(t, "bindings gone", func() bool {
			for _, d := range simSite(t, sim, site).Status().DNs {
				if len(d.Registrations) > 0 {
					return false
				}
			}
			return true
		})
	}
	if err := c.Login(testutil.Context(t), "", sitesim.DemoPassword, 0); !errors.Is(err, ErrClosed) {
		t.Fatalf("Login after Quit: %v", err)
	}
}

// BC-18: the phone's registration expired and cannot be renewed (the
// site's registrar is down): after site-sip-register-timeout the agent
// moves to the other site, where the endpoint is still registered.
func TestRegisterTimeoutSwitchover(t *testing.T) {
	sim := startSim(t, nil)
	setTimeouts(t, sim, 30, 1)
	c := startCore(t, sim, "agent1", nil)
	login(t, c, 1)
	site1 := simSite(t, sim, 1)
	if err := site1.Kill(sitesim.ServerSIP, sitesim.ModeClose); err != nil {
		t.Fatal(err)
	}
	if err := site1.ExpireRegistration("5001"); err != nil {
		t.Fatal(err)
	}
	s := waitState(t, c, "moved to site 2", func(s State) bool {
		return finished(s, "relaunch") && s.Phase == continuity.LoggedIn && s.Site == 2
	})
	if tl := timelines(s, "relaunch")[0]; tl.To != 2 || !hasStep(s, "site-sip-register-timeout") {
		t.Fatalf("re-launch timeline:\n%s", dump(s))
	}
	if _, ok := simAgent(t, sim, 2, "1001"); !ok {
		t.Fatal("agent 1001 not logged in at site 2")
	}
}

// BC-22: no Config Server answers: Login says so and the core keeps trying
// with back-off, showing the next attempt. When site 2's comes back the
// agent logs in, and moves to its preferred site 1 although site 1's Config
// Server is still down: its telephony works (BC-14).
func TestNoSiteThenRecovery(t *testing.T) {
	sim := startSim(t, nil)
	for _, n := range []int{1, 2} {
		if err := simSite(t, sim, n).Kill(sitesim.ServerConfig, sitesim.ModeClose); err != nil {
			t.Fatal(err)
		}
	}
	c := startCore(t, sim, "agent1", nil)
	if err := c.Login(testutil.Context(t), "", sitesim.DemoPassword, 0); !errors.Is(err, ErrUnreachable) {
		t.Fatalf("Login: %v, want ErrUnreachable", err)
	}
	waitState(t, c, "waiting with a next attempt", func(s State) bool {
		return s.Phase == continuity.Waiting && s.LoginError.Kind == ErrorUnreachable &&
			len(s.Countdowns) == 1 && s.Countdowns[0].What == "next attempt"
	})
	if err := simSite(t, sim, 2).Revive(sitesim.ServerConfig); err != nil {
		t.Fatal(err)
	}
	s := waitLoggedIn(t, c, 1)
	if s.Sites[0].Configuration != ServiceOff || !hasNotice(s, continuity.Alarm, "configuration service is unavailable") {
		t.Fatalf("site 1 without its Config Server:\n%s", dump(s))
	}
	if s.LoginError != (LoginError{}) {
		t.Fatalf("login error kept: %+v", s.LoginError)
	}
}

// Subscribe: a first call at once, then calls after changes, and a call
// once the core has stopped.
func TestSubscribe(t *testing.T) {
	sim := startSim(t, nil)
	c := startCore(t, sim, "agent1", nil)
	rec := testutil.NewRecorder[State]()
	defer c.Subscribe(rec.Add)()
	if first := rec.Next(t); first.Phase != continuity.Idle || first.User != "agent1" {
		t.Fatalf("first state %+v", first)
	}
	login(t, c, 1)
	rec.Await(t, "logged in", func(s State) bool { return s.Phase == continuity.LoggedIn })
	if err := c.Quit(testutil.Context(t)); err != nil {
		t.Fatal(err)
	}
	rec.Await(t, "the last state", func(s State) bool {
		return s.Phase == continuity.LoggedOut && s.Sites[0].SIP.State == "unregistered"
	})
}
