package continuity

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/tandem-softphone/tandem/wire"
)

var t0 = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

type harness struct {
	t   *testing.T
	m   *Machine
	now time.Time
}

func newHarness(t *testing.T, cfg Config) *harness {
	return &harness{t: t, m: New(cfg), now: t0}
}

func (h *harness) do(ev Event) []Action { return h.m.Handle(ev, h.now) }

// advance lets d pass, ticking at every deadline on the way.
func (h *harness) advance(d time.Duration) []Action {
	end := h.now.Add(d)
	var acts []Action
	for {
		dl, ok := h.m.Deadline()
		if !ok || dl.After(end) {
			break
		}
		h.now = dl
		acts = append(acts, h.m.Handle(Tick{Now: h.now}, h.now)...)
	}
	h.now = end
	return acts
}

// loggedIn brings the machine to LoggedIn at site 1 (preferred).
func (h *harness) loggedIn() {
	h.t.Helper()
	h.do(Start{})
	h.do(ConnectResult{Site: 1, Preferred: 1})
	h.do(LoginResult{Site: 1})
	if h.m.Phase() != LoggedIn || h.m.Site() != 1 {
		h.t.Fatalf("not logged in: %v site %d", h.m.Phase(), h.m.Site())
	}
}

func switchovers(acts []Action) []ActSwitchover {
	var out []ActSwitchover
	for _, a := range acts {
		if s, ok := a.(ActSwitchover); ok {
			out = append(out, s)
		}
	}
	return out
}

func has[T Action](acts []Action) (T, bool) {
	for _, a := range acts {
		if v, ok := a.(T); ok {
			return v, true
		}
	}
	var zero T
	return zero, false
}

func notifies(acts []Action, level Level) int {
	n := 0
	for _, a := range acts {
		if v, ok := a.(ActNotify); ok && v.Level == level {
			n++
		}
	}
	return n
}

var cfg30 = Config{SiteTimeout: 30 * time.Second, SIPRegisterTimeout: 30 * time.Second}

// BC-9: the other site's Config Server when the first cannot be reached.
func TestStartupOtherSiteWhenFirstFails(t *testing.T) {
	h := newHarness(t, cfg30)
	if got := h.do(Start{}); !reflect.DeepEqual(got, []Action{ActConnect{Site: 1}}) {
		t.Fatalf("start: %v", got)
	}
	acts := h.do(ConnectResult{Site: 1, Err: errors.New("refused")})
	if a, _ := has[ActConnect](acts); a.Site != 2 {
		t.Fatalf("after site 1 failed: %v", acts)
	}
	acts = h.do(ConnectResult{Site: 2, Preferred: 2})
	if a, _ := has[ActLogin](acts); a.Site != 2 {
		t.Fatalf("login: %v", acts)
	}
}

// BC-10: connected to a site that is not the preferred one: move there by a switchover.
func TestStartupMovesToPreferredSite(t *testing.T) {
	h := newHarness(t, cfg30)
	h.do(Start{})
	acts := h.do(ConnectResult{Site: 1, Preferred: 2})
	sw := switchovers(acts)
	if len(sw) != 1 || sw[0].From != 1 || sw[0].To != 2 {
		t.Fatalf("want a switchover to the preferred site: %v", acts)
	}
	h.do(LoginResult{Site: 2})
	if h.m.Phase() != LoggedIn || h.m.Site() != 2 || h.m.Preferred() != 2 {
		t.Fatalf("%v site %d", h.m.Phase(), h.m.Site())
	}
}

// BC-11: a cached preferred site is tried first, so no switchover follows.
func TestStartupCachedPreferredSite(t *testing.T) {
	h := newHarness(t, Config{StartSite: 2})
	if got := h.do(Start{}); !reflect.DeepEqual(got, []Action{ActConnect{Site: 2}}) {
		t.Fatalf("start: %v", got)
	}
	if acts := h.do(ConnectResult{Site: 2, Preferred: 2}); len(switchovers(acts)) != 0 {
		t.Fatalf("switchover despite the cache: %v", acts)
	}
}

// BC-22: no site reachable at startup: keep trying them alternately, with back-off, and say when.
func TestStartupNoSiteReachable(t *testing.T) {
	h := newHarness(t, Config{MinBackoff: time.Second, MaxBackoff: 4 * time.Second})
	h.do(Start{})
	h.do(ConnectResult{Site: 1, Err: errors.New("down")})
	acts := h.do(ConnectResult{Site: 2, Err: errors.New("down")})
	cd, ok := has[ActCountdown](acts)
	if !ok || cd.At != h.now.Add(time.Second) || h.m.Phase() != Waiting {
		t.Fatalf("want a countdown to the next attempt: %v", acts)
	}
	wantWait := []time.Duration{2, 4, 4, 4} // doubling, capped at MaxBackoff
	const site = 1
	for i := range wantWait {
		acts = h.advance(time.Minute)
		c, _ := has[ActConnect](acts)
		if c.Site != site {
			t.Fatalf("attempt %d at site %d, want site %d: %v", i, c.Site, site, acts)
		}
		h.do(ConnectResult{Site: c.Site, Err: errors.New("down")})
		acts = h.do(ConnectResult{Site: other(c.Site), Err: errors.New("down")})
		cd, _ := has[ActCountdown](acts)
		if got := cd.At.Sub(h.now); got != wantWait[i]*time.Second {
			t.Fatalf("wait %d: %v, want %v", i, got, wantWait[i]*time.Second)
		}
		// Each round tries both sites; the next starts with the one tried first.
	}
}

// BC-13: a telephony outage shorter than site-timeout does not switch over;
// longer, it does.
func TestTelephonyOutage(t *testing.T) {
	h := newHarness(t, cfg30)
	h.loggedIn()
	acts := h.do(ServiceChanged{Site: 1, Service: Telephony, On: false})
	if cd, ok := has[ActCountdown](acts); !ok || cd.At != t0.Add(30*time.Second) {
		t.Fatalf("no countdown: %v", acts)
	}
	h.advance(29 * time.Second)
	acts = h.do(ServiceChanged{Site: 1, Service: Telephony, On: true})
	if _, ok := has[ActCancelCountdown](acts); !ok {
		t.Fatalf("countdown not cancelled: %v", acts)
	}
	if acts := h.advance(time.Hour); len(switchovers(acts)) != 0 {
		t.Fatalf("switched over after the service came back: %v", acts)
	}

	h.do(ServiceChanged{Site: 1, Service: Telephony, On: false})
	acts = h.advance(30 * time.Second)
	sw := switchovers(acts)
	if len(sw) != 1 || sw[0].From != 1 || sw[0].To != 2 {
		t.Fatalf("want one switchover after site-timeout: %v", acts)
	}
}

// BC-13, BC-7: site-timeout 0 or absent never switches over for the telephony service.
func TestTelephonyOutageTimeoutZero(t *testing.T) {
	h := newHarness(t, Config{})
	h.loggedIn()
	acts := h.do(ServiceChanged{Site: 1, Service: Telephony, On: false})
	acts = append(acts, h.advance(24*time.Hour)...)
	if len(switchovers(acts)) != 0 {
		t.Fatalf("switched over with site-timeout 0: %v", acts)
	}
	if notifies(acts, Alarm) != 1 {
		t.Fatalf("the outage should still be an alarm: %v", acts)
	}
}

// BC-14, BC-15: configuration or statistic service OFF warns and raises an
// alarm, and never switches over, however long it lasts.
func TestConfigAndStatOffNeverSwitch(t *testing.T) {
	for _, svc := range []Service{Configuration, Statistic} {
		t.Run(svc.String(), func(t *testing.T) {
			h := newHarness(t, cfg30)
			h.loggedIn()
			acts := h.do(ServiceChanged{Site: 1, Service: svc, On: false})
			if notifies(acts, Alarm) != 1 {
				t.Fatalf("no alarm: %v", acts)
			}
			acts = h.advance(24 * time.Hour)
			if len(switchovers(acts)) != 0 || h.m.Phase() != LoggedIn {
				t.Fatalf("switched over for %s: %v", svc, acts)
			}
			if acts := h.do(ServiceChanged{Site: 1, Service: svc, On: true}); notifies(acts, Cleared) != 1 {
				t.Fatalf("no all-clear: %v", acts)
			}
		})
	}
}

// BC-16: the agent's own logout: nothing more.
func TestManualLogout(t *testing.T) {
	h := newHarness(t, cfg30)
	h.loggedIn()
	acts := h.do(AgentLoggedOut{Site: 1})
	acts = append(acts, h.advance(time.Hour)...)
	if len(acts) != 0 || h.m.Phase() != LoggedOut {
		t.Fatalf("manual logout caused %v (%v)", acts, h.m.Phase())
	}
}

// BC-17: a supervisor's logout: show the reason, nothing more.
func TestSupervisorLogout(t *testing.T) {
	h := newHarness(t, cfg30)
	h.loggedIn()
	acts := h.do(AgentLoggedOut{Site: 1, ReasonCode: "end_of_shift"})
	n, ok := has[ActNotify](acts)
	if !ok || n.Level != Warning || len(acts) != 1 {
		t.Fatalf("want only a notice: %v", acts)
	}
	if acts := h.advance(time.Hour); len(acts) != 0 || h.m.Phase() != LoggedOut {
		t.Fatalf("then %v", acts)
	}
}

// BC-18, BC-23: dr-force_logout re-launches the endpoint; EventDNBackInService
// in time logs the agent in again at the same site with the state it had.
func TestDRForceLogoutBackInTime(t *testing.T) {
	h := newHarness(t, cfg30)
	h.loggedIn()
	notReady := AgentState{Kind: wire.StateNotReady, Reason: "Break"}
	h.do(AgentStateChanged{State: notReady})
	acts := h.do(AgentLoggedOut{Site: 1, ReasonCode: wire.ReasonDRForceLogout})
	if r, ok := has[ActRelaunch](acts); !ok || r.Site != 1 {
		t.Fatalf("no re-launch: %v", acts)
	}
	h.do(AgentStateChanged{State: AgentState{Kind: wire.StateLoggedOut}})
	h.advance(29 * time.Second)
	h.do(RelaunchResult{})
	acts = h.do(DNBackInService{Site: 1})
	l, ok := has[ActLogin](acts)
	if !ok || l.Site != 1 || l.State != notReady {
		t.Fatalf("want a re-login at site 1 as NotReady/Break: %v", acts)
	}
	h.do(LoginResult{Site: 1})
	if acts := h.advance(time.Hour); len(switchovers(acts)) != 0 || h.m.Phase() != LoggedIn || h.m.Site() != 1 {
		t.Fatalf("then %v, %v", acts, h.m.Phase())
	}
}

// BC-18: EventDNBackInService not in time: switch over.
func TestDRForceLogoutTimeout(t *testing.T) {
	h := newHarness(t, cfg30)
	h.loggedIn()
	h.do(AgentLoggedOut{Site: 1, ReasonCode: wire.ReasonDRForceLogout})
	acts := h.advance(30 * time.Second)
	sw := switchovers(acts)
	if len(sw) != 1 || sw[0].To != 2 {
		t.Fatalf("want a switchover after site-sip-register-timeout: %v", acts)
	}
	// A late EventDNBackInService from the old site changes nothing.
	if acts := h.do(DNBackInService{Site: 1}); len(acts) != 0 {
		t.Fatalf("late DN event: %v", acts)
	}
}

// BC-18, BC-7: site-sip-register-timeout 0 never switches over for dr-force_logout.
func TestDRForceLogoutTimeoutZero(t *testing.T) {
	h := newHarness(t, Config{SiteTimeout: 30 * time.Second})
	h.loggedIn()
	acts := h.do(AgentLoggedOut{Site: 1, ReasonCode: wire.ReasonDRForceLogout})
	acts = append(acts, h.advance(24*time.Hour)...)
	if len(switchovers(acts)) != 0 || h.m.Phase() != Relaunching {
		t.Fatalf("switched over with the timeout 0: %v", acts)
	}
	if acts := h.do(DNBackInService{Site: 1}); len(acts) != 1 {
		t.Fatalf("re-login after a long wait: %v", acts)
	}
}

// BC-19: graceful_shutdown_logout switches over at once.
func TestGracefulShutdown(t *testing.T) {
	h := newHarness(t, cfg30)
	h.loggedIn()
	acts := h.do(AgentLoggedOut{Site: 1, ReasonCode: wire.ReasonGracefulShutdownLogout})
	sw := switchovers(acts)
	if len(sw) != 1 || sw[0].From != 1 || sw[0].To != 2 {
		t.Fatalf("want an immediate switchover: %v", acts)
	}
}

// BC-21: triggers during a switchover are absorbed: one switchover.
func TestOverlappingTriggers(t *testing.T) {
	h := newHarness(t, cfg30)
	h.loggedIn()
	h.do(ServiceChanged{Site: 1, Service: Telephony, On: false})
	h.do(AgentLoggedOut{Site: 1, ReasonCode: wire.ReasonDRForceLogout})
	acts := h.do(AgentLoggedOut{Site: 1, ReasonCode: wire.ReasonGracefulShutdownLogout})
	acts = append(acts, h.do(AgentLoggedOut{Site: 1, ReasonCode: wire.ReasonGracefulShutdownLogout})...)
	acts = append(acts, h.advance(time.Minute)...)
	acts = append(acts, h.do(ServiceChanged{Site: 1, Service: Telephony, On: false})...)
	if n := len(switchovers(acts)); n != 1 {
		t.Fatalf("%d switchovers: %v", n, acts)
	}
}

// BC-20, BC-23: the switchover carries the agent's state to restore.
func TestSwitchoverCarriesState(t *testing.T) {
	h := newHarness(t, cfg30)
	h.loggedIn()
	ready := AgentState{Kind: wire.StateReady}
	h.do(AgentStateChanged{State: ready})
	sw := switchovers(h.do(AgentLoggedOut{Site: 1, ReasonCode: wire.ReasonGracefulShutdownLogout}))
	if len(sw) != 1 || sw[0].State != ready {
		t.Fatalf("%v", sw)
	}
}

// BC-22: the other site fails too: alternate with back-off, telling when.
func TestBothSitesDown(t *testing.T) {
	h := newHarness(t, Config{SiteTimeout: 30 * time.Second, MinBackoff: time.Second, MaxBackoff: 8 * time.Second})
	h.loggedIn()
	h.do(AgentLoggedOut{Site: 1, ReasonCode: wire.ReasonGracefulShutdownLogout})
	target := 2
	var waits []time.Duration
	for range 6 {
		start := h.now
		acts := h.do(LoginResult{Site: target, Err: errors.New("unreachable")})
		cd, ok := has[ActCountdown](acts)
		if !ok || h.m.Phase() != Waiting {
			t.Fatalf("no countdown after a failed attempt: %v", acts)
		}
		waits = append(waits, cd.At.Sub(start))
		sw := switchovers(h.advance(time.Minute))
		if len(sw) != 1 || sw[0].From != target || sw[0].To != other(target) {
			t.Fatalf("want the other site next: %v", sw)
		}
		target = other(target)
	}
	want := []time.Duration{1, 2, 4, 8, 8, 8}
	for i := range want {
		if waits[i] != want[i]*time.Second {
			t.Fatalf("back-off %v, want %v", waits, want)
		}
	}
	h.do(LoginResult{Site: target})
	if h.m.Phase() != LoggedIn || h.m.Site() != target {
		t.Fatal("not logged in at last")
	}
}

// BC-24: no automatic return to the preferred site; the manual switch refuses during a call.
func TestNoAutomaticReturnAndManualSwitch(t *testing.T) {
	h := newHarness(t, cfg30)
	h.loggedIn()
	h.do(AgentLoggedOut{Site: 1, ReasonCode: wire.ReasonGracefulShutdownLogout})
	h.do(LoginResult{Site: 2})
	// Site 1 (preferred) comes back: nothing happens.
	acts := h.do(ServiceChanged{Site: 1, Service: Telephony, On: true})
	acts = append(acts, h.advance(24*time.Hour)...)
	if len(switchovers(acts)) != 0 || h.m.Site() != 2 {
		t.Fatalf("returned on its own: %v", acts)
	}
	h.do(CallsChanged{Active: 1})
	acts = h.do(SwitchRequested{})
	if len(switchovers(acts)) != 0 {
		t.Fatalf("switched during a call: %v", acts)
	}
	h.do(CallsChanged{Active: 0})
	if sw := switchovers(h.do(SwitchRequested{})); len(sw) != 1 || sw[0].To != 1 {
		t.Fatalf("manual switch: %v", sw)
	}
}

// Events from the site being left, or for another site, are ignored.
func TestEventsOfOtherSiteIgnored(t *testing.T) {
	h := newHarness(t, cfg30)
	h.loggedIn()
	acts := h.do(AgentLoggedOut{Site: 2, ReasonCode: wire.ReasonGracefulShutdownLogout})
	acts = append(acts, h.do(ServiceChanged{Site: 2, Service: Telephony, On: false})...)
	acts = append(acts, h.advance(time.Hour)...)
	if len(acts) != 0 {
		t.Fatalf("%v", acts)
	}
}

// A randomized run of long event sequences keeps the invariants: never two
// switchovers at once, never a switchover caused by CONFIG or STAT alone,
// a login at one site at most, and Tick deadlines honoured.
func TestRandomizedInvariants(t *testing.T) {
	for seed := range uint64(300) {
		r := rand.New(rand.NewPCG(seed, 7))
		cfg := Config{MinBackoff: time.Second, MaxBackoff: 10 * time.Second}
		if r.IntN(3) > 0 {
			cfg.SiteTimeout = time.Duration(1+r.IntN(40)) * time.Second
		}
		if r.IntN(3) > 0 {
			cfg.SIPRegisterTimeout = time.Duration(1+r.IntN(40)) * time.Second
		}
		h := newHarness(t, cfg)
		var inFlight *ActSwitchover
		pendingLogin := 0
		loggedAt := 0
		check := func(ev Event, acts []Action) {
			for _, a := range acts {
				switch a := a.(type) {
				case ActSwitchover:
					if inFlight != nil {
						t.Fatalf("seed %d: %v while %v in flight (event %#v)", seed, a, inFlight, ev)
					}
					if sc, ok := ev.(ServiceChanged); ok && sc.Service != Telephony {
						t.Fatalf("seed %d: switchover on %s", seed, sc.Service)
					}
					inFlight = &a
					loggedAt = 0
				case ActLogin:
					if loggedAt != 0 && loggedAt != a.Site {
						t.Fatalf("seed %d: login at %d while logged in at %d", seed, a.Site, loggedAt)
					}
					pendingLogin = a.Site
				}
			}
		}
		feed := func(ev Event) {
			acts := h.do(ev)
			check(ev, acts)
		}
		feed(Start{})
		for step := 0; step < 400; step++ {
			site := 1 + r.IntN(2)
			if r.IntN(2) == 0 && h.m.Site() != 0 {
				site = h.m.Site()
			}
			switch r.IntN(12) {
			case 0:
				feed(ConnectResult{Site: h.m.Site(), Preferred: 1 + r.IntN(2), Err: maybeErr(r)})
			case 1:
				err := maybeErr(r)
				target := h.m.Site()
				if inFlight != nil {
					target = inFlight.To
				}
				if pendingLogin != 0 && inFlight == nil {
					target = pendingLogin
				}
				acts := h.do(LoginResult{Site: target, Err: err})
				if h.m.Phase() == LoggedIn {
					loggedAt = target
					inFlight = nil
					pendingLogin = 0
				} else if err != nil && (inFlight != nil && inFlight.To == target || pendingLogin == target) {
					inFlight = nil
					pendingLogin = 0
				}
				check(LoginResult{Site: target, Err: err}, acts)
			case 2:
				feed(ServiceChanged{Site: site, Service: Service(r.IntN(3)), On: r.IntN(2) == 0})
			case 3:
				feed(AgentLoggedOut{Site: site, ReasonCode: []string{"", "sup", wire.ReasonDRForceLogout, wire.ReasonGracefulShutdownLogout}[r.IntN(4)]})
				if h.m.Phase() == LoggedOut {
					loggedAt = 0
				}
			case 4:
				feed(DNBackInService{Site: site})
			case 5:
				feed(RelaunchResult{Err: maybeErr(r)})
			case 6:
				feed(CallsChanged{Active: r.IntN(2)})
			case 7:
				feed(SwitchRequested{})
			case 8:
				feed(AgentStateChanged{State: AgentState{Kind: wire.StateReady}})
			case 9:
				if r.IntN(10) == 0 {
					feed(Start{})
				}
			default:
				before := h.now
				for _, a := range h.advance(time.Duration(r.IntN(20)) * time.Second) {
					check(Tick{Now: h.now}, []Action{a})
				}
				if dl, ok := h.m.Deadline(); ok && !dl.After(h.now) {
					t.Fatalf("seed %d: deadline %v left behind at %v (from %v)", seed, dl, h.now, before)
				}
			}
			if h.m.Phase() == LoggedIn && h.m.Site() == 0 {
				t.Fatalf("seed %d: logged in at no site", seed)
			}
		}
	}
}

func maybeErr(r *rand.Rand) error {
	if r.IntN(3) == 0 {
		return fmt.Errorf("failure %d", r.IntN(100))
	}
	return nil
}
