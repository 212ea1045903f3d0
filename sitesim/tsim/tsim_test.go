package tsim

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tandem-softphone/tandem/internal/testutil"
	"github.com/tandem-softphone/tandem/link"
	"github.com/tandem-softphone/tandem/tserver"
	"github.com/tandem-softphone/tandem/wire"
)

// The agent's life at one DN: register, login, ready, not ready with a
// reason, after-call work, query, and the agent's own logout (BC-16), with
// a second link on the same DN seeing every change unsolicited.
func TestAgentLifecycle(t *testing.T) {
	s, obs := start(t, nil)
	desk := registered(t, s.Addr(link.Primary), "5001", wire.StateLoggedOut)
	watcher := registered(t, s.Addr(link.Backup), "5001", wire.StateLoggedOut)

	if err := s.SetDNInService("5001", true, "registered"); err != nil {
		t.Fatal(err)
	}
	desk.next(wire.EventDNBackInService)
	watcher.next(wire.EventDNBackInService)

	login := desk.ok(wire.RequestAgentLogin, loginAttrs("5001", "1001", "Place_5001", wire.WorkModeManualIn).
		Add(wire.AttrPassword, "pw1").Add(wire.AttrThisQueue, "Q1"), wire.EventAgentLogin)
	if got := login.Attrs.String(wire.AttrAgentState); got != wire.StateNotReady {
		t.Fatalf("state after ManualIn login = %q, want NotReady", got)
	}
	if login.Attrs.String(wire.AttrAgentID) != "1001" || login.Attrs.String(wire.AttrPlace) != "Place_5001" {
		t.Fatalf("EventAgentLogin attrs %v", login.Attrs)
	}
	if ev := watcher.next(wire.EventAgentLogin); ev.Attrs.String(wire.AttrAgentID) != "1001" {
		t.Fatalf("watcher's EventAgentLogin %v", ev)
	}

	ready := desk.ok(wire.RequestAgentReady, dnAttrs("5001").Add(wire.AttrAgentWorkMode, int64(wire.WorkModeManualIn)), wire.EventAgentReady)
	if ready.Attrs.String(wire.AttrAgentState) != wire.StateReady {
		t.Fatalf("EventAgentReady %v", ready)
	}
	watcher.next(wire.EventAgentReady)

	nr := desk.ok(wire.RequestAgentNotReady, dnAttrs("5001").
		Add(wire.AttrAgentWorkMode, int64(wire.WorkModeAuxWork)).
		Add(wire.AttrReasons, wire.KVList{}.Add(wire.AttrReasonCode, "Lunch")), wire.EventAgentNotReady)
	if nr.Attrs.String(wire.AttrAgentState) != wire.StateNotReady || nr.Attrs.List(wire.AttrReasons).String(wire.AttrReasonCode) != "Lunch" {
		t.Fatalf("EventAgentNotReady %v", nr)
	}
	watcher.next(wire.EventAgentNotReady)

	info := desk.ok(wire.RequestQueryAddress, dnAttrs("5001"), wire.EventAddressInfo)
	for key, want := range map[string]string{
		wire.AttrAgentID:    "1001",
		wire.AttrAgentState: wire.StateNotReady,
		wire.AttrPlace:      "Place_5001",
		wire.AttrDNStatus:   wire.DNStatusInService,
	} {
		if got := info.Attrs.String(key); got != want {
			t.Errorf("EventAddressInfo %s = %q, want %q", key, got, want)
		}
	}
	if wm, _ := info.Attrs.Int(wire.AttrAgentWorkMode); wm != wire.WorkModeAuxWork {
		t.Errorf("EventAddressInfo work mode %d, want AuxWork", wm)
	}
	if rc := info.Attrs.List(wire.AttrReasons).String(wire.AttrReasonCode); rc != "Lunch" {
		t.Errorf("EventAddressInfo reason %q, want Lunch", rc)
	}

	acw := desk.ok(wire.RequestAgentNotReady, dnAttrs("5001").Add(wire.AttrAgentWorkMode, int64(wire.WorkModeAfterCallWork)), wire.EventAgentNotReady)
	if acw.Attrs.String(wire.AttrAgentState) != wire.StateAfterCallWork {
		t.Fatalf("after-call work: %v", acw)
	}
	watcher.next(wire.EventAgentNotReady)

	// BC-16: the agent's own logout carries no ReasonCode, even if the
	// request had Reasons.
	out := desk.ok(wire.RequestAgentLogout, dnAttrs("5001").
		Add(wire.AttrReasons, wire.KVList{}.Add(wire.AttrReasonCode, "EndOfShift")), wire.EventAgentLogout)
	if ext, rs := reasonsOf(out); ext != "" || rs != "" {
		t.Fatalf("manual logout carries ReasonCode %q/%q", ext, rs)
	}
	if ext, rs := reasonsOf(watcher.next(wire.EventAgentLogout)); ext != "" || rs != "" {
		t.Fatalf("manual logout seen by the watcher carries ReasonCode %q/%q", ext, rs)
	}
	info = desk.ok(wire.RequestQueryAddress, dnAttrs("5001"), wire.EventAddressInfo)
	if info.Attrs.String(wire.AttrAgentState) != wire.StateLoggedOut || info.Attrs.String(wire.AttrAgentID) != "" {
		t.Fatalf("after logout: %v", info)
	}
	desk.none("5001")

	// The requester got its answers, not a second unsolicited copy; the
	// observer saw each event once, answers with the request's RefID.
	if n := count(obs, wire.EventAgentLogin); n != 1 {
		t.Errorf("observer saw %d EventAgentLogin, want 1", n)
	}
	for _, e := range obs.All() {
		if e.Msg.Name == wire.EventAgentLogin && (e.Msg.RefID == 0 || e.Member != "primary" || e.Site != 1) {
			t.Errorf("observed login %+v: want the primary's answer with its RefID", e)
		}
		if e.Msg.Name == wire.EventDNBackInService && (e.Msg.RefID != 0 || e.Member != "") {
			t.Errorf("observed unsolicited %+v with a RefID or member", e)
		}
	}

	unreg := desk.ok(wire.RequestUnregisterAddress, dnAttrs("5001"), wire.EventUnregistered)
	if unreg.Attrs.String(wire.AttrThisDN) != "5001" {
		t.Fatalf("EventUnregistered %v", unreg)
	}
	desk.refused(wire.RequestAgentLogin, loginAttrs("5001", "1001", "Place_5001", 0), wire.ErrCodeNotRegistered)
}

func TestLoginAutoInIsReady(t *testing.T) {
	s, _ := start(t, func(o *Options) { o.AllowLoginOutOfService = true })
	desk := registered(t, s.Addr(link.Primary), "5002", wire.StateLoggedOut)
	ans := desk.ok(wire.RequestAgentLogin, loginAttrs("5002", "1002", "Place_5002", wire.WorkModeAutoIn), wire.EventAgentLogin)
	if ans.Attrs.String(wire.AttrAgentState) != wire.StateReady {
		t.Fatalf("AutoIn login state %q, want Ready", ans.Attrs.String(wire.AttrAgentState))
	}
	// AllowLoginOutOfService: the DN was never in service.
	if st := desk.ok(wire.RequestQueryAddress, dnAttrs("5002"), wire.EventAddressInfo).Attrs.String(wire.AttrDNStatus); st != wire.DNStatusOutOfService {
		t.Fatalf("DNStatus %q, want OutOfService", st)
	}
}

func TestRefusals(t *testing.T) {
	s, obs := start(t, nil)
	for _, dn := range []string{"5001", "5002", "5003"} {
		s.SetDNInService(dn, true, "")
	}
	a := registered(t, s.Addr(link.Primary), "5001", wire.StateLoggedOut)
	a.ok(wire.RequestRegisterAddress, dnAttrs("5002"), wire.EventRegistered)
	a.ok(wire.RequestRegisterAddress, dnAttrs("5003"), wire.EventRegistered)
	a.ok(wire.RequestAgentLogin, loginAttrs("5002", "1002", "Place_5002", 0), wire.EventAgentLogin)

	cases := []struct {
		name  string
		req   string
		attrs wire.KVList
		code  int64
	}{
		{"unknown request", "RequestMakeCall", dnAttrs("5001"), wire.ErrCodeUnknownRequest},
		{"an event sent as a request", wire.EventAgentReady, dnAttrs("5001"), wire.ErrCodeUnknownRequest},
		{"register without ThisDN", wire.RequestRegisterAddress, nil, wire.ErrCodeInvalidAttribute},
		{"register unknown DN", wire.RequestRegisterAddress, dnAttrs("9999"), wire.ErrCodeUnknownDN},
		{"register other site's DN", wire.RequestRegisterAddress, dnAttrs("6001"), wire.ErrCodeUnknownDN},
		{"query unknown DN", wire.RequestQueryAddress, dnAttrs("9999"), wire.ErrCodeUnknownDN},
		{"unregister other site's DN", wire.RequestUnregisterAddress, dnAttrs("6001"), wire.ErrCodeUnknownDN},
		{"login without AgentID", wire.RequestAgentLogin, dnAttrs("5001").Add(wire.AttrPlace, "Place_5001"), wire.ErrCodeInvalidAttribute},
		{"login unknown agent", wire.RequestAgentLogin, loginAttrs("5001", "4242", "Place_5001", 0), wire.ErrCodeNotFound},
		{"login wrong password", wire.RequestAgentLogin, loginAttrs("5001", "1001", "Place_5001", 0).Add(wire.AttrPassword, "nope"), wire.ErrCodeAuthFailed},
		{"login without place", wire.RequestAgentLogin, dnAttrs("5001").Add(wire.AttrAgentID, "1001"), wire.ErrCodeInvalidAttribute},
		{"login unknown place", wire.RequestAgentLogin, loginAttrs("5001", "1001", "Nowhere", 0), wire.ErrCodeNotFound},
		{"login place of another DN", wire.RequestAgentLogin, loginAttrs("5001", "1001", "Place_5003", 0), wire.ErrCodeInvalidAttribute},
		{"login place of the other site", wire.RequestAgentLogin, loginAttrs("5001", "1001", "Place_6001", 0), wire.ErrCodeInvalidAttribute},
		{"login bad work mode", wire.RequestAgentLogin, loginAttrs("5001", "1001", "Place_5001", 9), wire.ErrCodeInvalidAttribute},
		{"login at a DN in use", wire.RequestAgentLogin, loginAttrs("5002", "1001", "Place_5002", 0), wire.ErrCodeInvalidState},
		{"login twice", wire.RequestAgentLogin, loginAttrs("5002", "1002", "Place_5002", 0), wire.ErrCodeInvalidState},
		{"login of an agent logged in elsewhere", wire.RequestAgentLogin, loginAttrs("5003", "1002", "Place_5003", 0), wire.ErrCodeInvalidState},
		{"ready without agent", wire.RequestAgentReady, dnAttrs("5001"), wire.ErrCodeInvalidState},
		{"not ready without agent", wire.RequestAgentNotReady, dnAttrs("5001"), wire.ErrCodeInvalidState},
		{"logout without agent", wire.RequestAgentLogout, dnAttrs("5001"), wire.ErrCodeInvalidState},
		{"not ready bad work mode", wire.RequestAgentNotReady, dnAttrs("5002").Add(wire.AttrAgentWorkMode, int64(wire.WorkModeAutoIn)), wire.ErrCodeInvalidAttribute},
		{"private without id", wire.RequestPrivateService, dnAttrs("5001"), wire.ErrCodeInvalidAttribute},
		{"private unknown id", wire.RequestPrivateService, dnAttrs("5001").Add(wire.AttrPrivateMsgID, int64(77)), wire.ErrCodeInvalidAttribute},
		{"agent stats of nobody", wire.RequestPrivateService, dnAttrs("5001").Add(wire.AttrPrivateMsgID, int64(PrivateAgentStats)), wire.ErrCodeInvalidAttribute},
		{"agent stats unknown agent", wire.RequestPrivateService, wire.KVList{}.Add(wire.AttrPrivateMsgID, int64(PrivateAgentStats)).
			Add(wire.AttrExtensions, wire.KVList{}.Add(wire.AttrAgentID, "4242")), wire.ErrCodeNotFound},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a.t = t
			a.refused(c.req, c.attrs, c.code)
		})
	}
	a.t = t

	// Another link has not registered 5002: it may not act on it.
	b := dial(t, s.Addr(link.Backup))
	b.refused(wire.RequestAgentReady, dnAttrs("5002"), wire.ErrCodeNotRegistered)
	b.refused(wire.RequestUnregisterAddress, dnAttrs("5002"), wire.ErrCodeNotRegistered)

	// An out-of-service DN refuses logins unless allowed.
	s.SetDNInService("5001", false, "expired")
	a.next(wire.EventDNOutOfService)
	a.refused(wire.RequestAgentLogin, loginAttrs("5001", "1001", "Place_5001", 0), wire.ErrCodeOutOfService)

	if n := count(obs, wire.EventError); n < len(cases) {
		t.Errorf("observer saw %d EventError, want at least %d", n, len(cases))
	}
}

func TestPrivateServices(t *testing.T) {
	clk := &clock{now: time.Date(2025, 3, 4, 10, 0, 0, 0, time.Local)}
	s, _ := start(t, func(o *Options) { o.Now = clk.Now })
	s.SetDNInService("5001", true, "")
	desk := registered(t, s.Addr(link.Primary), "5001", wire.StateLoggedOut)

	ans := desk.ok(wire.RequestPrivateService, dnAttrs("5001").Add(wire.AttrPrivateMsgID, int64(PrivateSiteInfo)), wire.EventPrivateInfo)
	ext := ans.Attrs.List(wire.AttrExtensions)
	if site, _ := ext.Int(ExtSite); site != 1 || ext.String(ExtSiteName) != "Test_SiteA" || ext.String(wire.AttrServerRole) != "primary" || ext.String(ExtMember) != "primary" {
		t.Fatalf("site info %v", ext)
	}
	if sd, _ := ext.Int(ExtShuttingDown); sd != 0 {
		t.Fatalf("site info says shutting down: %v", ext)
	}
	if id, _ := ans.Attrs.Int(wire.AttrPrivateMsgID); id != PrivateSiteInfo {
		t.Fatalf("EventPrivateInfo PrivateMsgID %d", id)
	}

	desk.ok(wire.RequestAgentLogin, loginAttrs("5001", "1001", "Place_5001", 0), wire.EventAgentLogin)
	clk.Advance(90 * time.Second)
	stats := desk.ok(wire.RequestPrivateService, dnAttrs("5001").Add(wire.AttrPrivateMsgID, int64(PrivateAgentStats)), wire.EventPrivateInfo)
	ext = stats.Attrs.List(wire.AttrExtensions)
	if secs, _ := ext.Int(wire.StatLoginTimeToday); secs != 90 || ext.String(wire.AttrAgentID) != "1001" {
		t.Fatalf("agent stats %v, want 90 s logged in for 1001", ext)
	}
	if calls, ok := ext.Int(wire.StatCallsHandledToday); !ok || calls != 0 {
		t.Fatalf("agent stats %v, want 0 calls", ext)
	}
}

// The Stat Server's getter: login time accumulates over sessions of the
// day and starts again at midnight.
func TestAgentStat(t *testing.T) {
	clk := &clock{now: time.Date(2025, 3, 4, 23, 0, 0, 0, time.Local)}
	s, _ := start(t, func(o *Options) { o.Now = clk.Now; o.AllowLoginOutOfService = true })
	desk := registered(t, s.Addr(link.Primary), "5001", wire.StateLoggedOut)
	stat := func(kind string) int64 {
		t.Helper()
		v, ok := s.AgentStat("1001", kind)
		if !ok {
			t.Fatalf("AgentStat(1001, %s) not ok", kind)
		}
		return v
	}
	if v := stat(wire.StatLoginTimeToday); v != 0 {
		t.Fatalf("login time before any login %d", v)
	}
	if _, ok := s.AgentDN("1001"); ok {
		t.Fatal("AgentDN of an agent not logged in")
	}
	desk.ok(wire.RequestAgentLogin, loginAttrs("5001", "1001", "Place_5001", 0), wire.EventAgentLogin)
	if dn, ok := s.AgentDN("1001"); !ok || dn != "5001" {
		t.Fatalf("AgentDN of the logged-in agent: %q %v", dn, ok)
	}
	clk.Advance(10 * time.Minute)
	desk.ok(wire.RequestAgentLogout, dnAttrs("5001"), wire.EventAgentLogout)
	if _, ok := s.AgentDN("1001"); ok {
		t.Fatal("AgentDN after logout")
	}
	clk.Advance(10 * time.Minute)
	desk.ok(wire.RequestAgentLogin, loginAttrs("5001", "1001", "Place_5001", 0), wire.EventAgentLogin)
	clk.Advance(5 * time.Minute)
	if v := stat(wire.StatLoginTimeToday); v != 15*60 {
		t.Fatalf("login time %d s, want 900", v)
	}
	if v := stat(wire.StatCallsHandledToday); v != 0 {
		t.Fatalf("calls handled %d, want 0", v)
	}
	for range 2 {
		if err := s.CallHandled("1001"); err != nil {
			t.Fatal(err)
		}
	}
	if v := stat(wire.StatCallsHandledToday); v != 2 {
		t.Fatalf("calls handled %d, want 2", v)
	}
	clk.Advance(time.Hour) // 00:25 the next day, still logged in since 23:20
	if v := stat(wire.StatLoginTimeToday); v != 25*60 {
		t.Fatalf("login time after midnight %d s, want 1500", v)
	}
	if v := stat(wire.StatCallsHandledToday); v != 0 {
		t.Fatalf("calls handled after midnight %d, want 0", v)
	}
	if err := s.CallHandled("1001"); err != nil {
		t.Fatal(err)
	}
	if v := stat(wire.StatCallsHandledToday); v != 1 {
		t.Fatalf("calls handled of the new day %d, want 1", v)
	}
	if err := s.CallHandled("4242"); !errors.Is(err, ErrUnknownAgent) {
		t.Fatalf("CallHandled of an unknown agent: %v", err)
	}
	if _, ok := s.AgentStat("4242", wire.StatLoginTimeToday); ok {
		t.Fatal("AgentStat of an unknown agent is ok")
	}
	if _, ok := s.AgentStat("1001", "TalkTime"); ok {
		t.Fatal("AgentStat of an unknown statistic is ok")
	}
}

// BC-18: the DN's registration at this site drops: EventDNOutOfService, and
// the agent logged in there gets EventAgentLogout with ReasonCode
// dr-force_logout in Extensions and Reasons; a new registration gives
// EventDNBackInService.
func TestDNOutOfServiceForceLogout(t *testing.T) {
	s, obs := start(t, nil)
	s.SetDNInService("5001", true, "registered")
	desk := registered(t, s.Addr(link.Primary), "5001", wire.StateLoggedOut)
	desk.ok(wire.RequestAgentLogin, loginAttrs("5001", "1001", "Place_5001", wire.WorkModeAutoIn), wire.EventAgentLogin)

	if err := s.SetDNInService("5001", false, "expired"); err != nil {
		t.Fatal(err)
	}
	oos := desk.next(wire.EventDNOutOfService)
	if oos.Attrs.String(wire.AttrThisDN) != "5001" || oos.Attrs.List(wire.AttrExtensions).String("Reason") != "expired" {
		t.Fatalf("EventDNOutOfService %v", oos)
	}
	out := desk.next(wire.EventAgentLogout)
	if ext, rs := reasonsOf(out); ext != wire.ReasonDRForceLogout || rs != wire.ReasonDRForceLogout {
		t.Fatalf("EventAgentLogout ReasonCode %q/%q, want dr-force_logout in both", ext, rs)
	}
	if out.Attrs.String(wire.AttrAgentID) != "1001" {
		t.Fatalf("EventAgentLogout %v", out)
	}
	info := desk.ok(wire.RequestQueryAddress, dnAttrs("5001"), wire.EventAddressInfo)
	if info.Attrs.String(wire.AttrAgentState) != wire.StateLoggedOut || info.Attrs.String(wire.AttrDNStatus) != wire.DNStatusOutOfService {
		t.Fatalf("after the registration dropped: %v", info)
	}

	// The same state again is no event.
	s.SetDNInService("5001", false, "expired")
	desk.none("5001")

	s.SetDNInService("5001", true, "registered")
	desk.next(wire.EventDNBackInService)
	if st := desk.ok(wire.RequestQueryAddress, dnAttrs("5001"), wire.EventAddressInfo).Attrs.String(wire.AttrDNStatus); st != wire.DNStatusInService {
		t.Fatalf("DNStatus %q after EventDNBackInService", st)
	}
	// BC-18: the desktop logs the agent back in.
	desk.ok(wire.RequestAgentLogin, loginAttrs("5001", "1001", "Place_5001", 0), wire.EventAgentLogin)

	if n := count(obs, wire.EventAgentLogout); n != 1 {
		t.Errorf("observer saw %d EventAgentLogout, want 1", n)
	}
	if err := s.SetDNInService("7777", false, ""); !errors.Is(err, ErrUnknownDN) {
		t.Errorf("SetDNInService of an unknown DN: %v", err)
	}
}

// BC-19: a graceful shutdown logs every agent out with ReasonCode
// graceful_shutdown_logout (an agent on a call at the end of the call) and
// refuses new logins until Resume.
func TestGracefulShutdown(t *testing.T) {
	s, _ := start(t, func(o *Options) { o.AllowLoginOutOfService = true })
	d1 := registered(t, s.Addr(link.Primary), "5001", wire.StateLoggedOut)
	d2 := registered(t, s.Addr(link.Backup), "5002", wire.StateLoggedOut)
	d3 := registered(t, s.Addr(link.Primary), "5003", wire.StateLoggedOut)
	d1.ok(wire.RequestAgentLogin, loginAttrs("5001", "1001", "Place_5001", 0), wire.EventAgentLogin)
	d2.ok(wire.RequestAgentLogin, loginAttrs("5002", "1002", "Place_5002", 0), wire.EventAgentLogin)
	if err := s.SetDNBusy("5002", true); err != nil {
		t.Fatal(err)
	}

	s.GracefulShutdown()
	if !s.ShuttingDown() {
		t.Fatal("ShuttingDown() false after GracefulShutdown")
	}
	if ext, rs := reasonsOf(d1.next(wire.EventAgentLogout)); ext != wire.ReasonGracefulShutdownLogout || rs != wire.ReasonGracefulShutdownLogout {
		t.Fatalf("ReasonCode %q/%q, want graceful_shutdown_logout", ext, rs)
	}
	// The agent on a call stays until the call ends.
	d2.none("5002")
	if got := d2.ok(wire.RequestQueryAddress, dnAttrs("5002"), wire.EventAddressInfo).Attrs.String(wire.AttrAgentState); got != wire.StateNotReady {
		t.Fatalf("busy agent's state %q during shutdown, want still logged in", got)
	}
	re := d3.refused(wire.RequestAgentLogin, loginAttrs("5003", "1003", "Place_5003", 0), wire.ErrCodeShuttingDown)
	t.Logf("refused: %s", re.Message)

	ans := d3.ok(wire.RequestPrivateService, wire.KVList{}.Add(wire.AttrPrivateMsgID, int64(PrivateSiteInfo)), wire.EventPrivateInfo)
	if sd, _ := ans.Attrs.List(wire.AttrExtensions).Int(ExtShuttingDown); sd != 1 {
		t.Fatalf("site info during shutdown: %v", ans.Attrs)
	}

	s.SetDNBusy("5002", false)
	if ext, _ := reasonsOf(d2.next(wire.EventAgentLogout)); ext != wire.ReasonGracefulShutdownLogout {
		t.Fatalf("end of call: ReasonCode %q, want graceful_shutdown_logout", ext)
	}

	s.Resume()
	d3.ok(wire.RequestAgentLogin, loginAttrs("5003", "1003", "Place_5003", 0), wire.EventAgentLogin)
	if err := s.SetDNBusy("0000", true); !errors.Is(err, ErrUnknownDN) {
		t.Errorf("SetDNBusy of an unknown DN: %v", err)
	}
}

// BC-17: a supervisor's logout carries the supervisor's reason code.
func TestForceLogout(t *testing.T) {
	s, _ := start(t, func(o *Options) { o.AllowLoginOutOfService = true })
	desk := registered(t, s.Addr(link.Primary), "5003", wire.StateLoggedOut)
	desk.ok(wire.RequestAgentLogin, loginAttrs("5003", "1003", "Place_5003", 0), wire.EventAgentLogin)

	if err := s.ForceLogout("1003", ""); err == nil {
		t.Fatal("ForceLogout without a reason accepted")
	}
	if err := s.ForceLogout("1003", "supervisor-break"); err != nil {
		t.Fatal(err)
	}
	if ext, rs := reasonsOf(desk.next(wire.EventAgentLogout)); ext != "supervisor-break" || rs != "supervisor-break" {
		t.Fatalf("ReasonCode %q/%q, want supervisor-break", ext, rs)
	}
	if err := s.ForceLogout("1003", "again"); !errors.Is(err, ErrNotLoggedIn) {
		t.Fatalf("ForceLogout of a logged-out agent: %v", err)
	}
}

// A link's registrations vanish with it; its agent stays logged in, and the
// reconnected desktop finds the agent's state in EventRegistered.
func TestLinkLossKeepsAgent(t *testing.T) {
	s, _ := start(t, func(o *Options) { o.AllowLoginOutOfService = true })
	desk := registered(t, s.Addr(link.Primary), "5001", wire.StateLoggedOut)
	desk.ok(wire.RequestAgentLogin, loginAttrs("5001", "1001", "Place_5001", 0), wire.EventAgentLogin)
	desk.ok(wire.RequestAgentNotReady, dnAttrs("5001").Add(wire.AttrReasons, wire.KVList{}.Add(wire.AttrReasonCode, "Coffee")), wire.EventAgentNotReady)
	desk.c.Close()
	testutil.Eventually(t, "registration dropped with its link", func() bool { return s.Snapshot().DNs[0].Links == 0 })

	snap := s.Snapshot()
	if len(snap.Agents) != 1 || snap.Agents[0].AgentID != "1001" || snap.Agents[0].ReasonCode != "Coffee" {
		t.Fatalf("agents after link loss: %+v", snap.Agents)
	}
	again := dial(t, s.Addr(link.Primary))
	reg := again.ok(wire.RequestRegisterAddress, dnAttrs("5001"), wire.EventRegistered)
	if reg.Attrs.String(wire.AttrAgentState) != wire.StateNotReady || reg.Attrs.String(wire.AttrAgentID) != "1001" ||
		reg.Attrs.List(wire.AttrReasons).String(wire.AttrReasonCode) != "Coffee" {
		t.Fatalf("EventRegistered after reconnect: %v", reg)
	}
}

// BC-4: the primary dies; the backup announces itself primary and serves the
// same agents, so the desktop's client sees nothing but a continued service.
func TestHAPairHotStandby(t *testing.T) {
	for _, mode := range []link.Mode{link.Closed, link.Blackhole} {
		t.Run(mode.String(), func(t *testing.T) {
			s, _ := start(t, func(o *Options) { o.AllowLoginOutOfService = true })
			if got := dial(t, s.Addr(link.Backup)).c.Peer().Role; got != "backup" {
				t.Fatalf("backup announces %q while the primary is up", got)
			}
			events := make(chan tserver.Event, 100)
			c := tserver.New(tserver.Options{
				Name: "site1", Primary: s.Addr(link.Primary), Backup: s.Addr(link.Backup),
				// BC-5: a blackholed primary is noticed by keep-alive.
				Link:       link.Options{KeepAlive: 200 * time.Millisecond, RemoteKeepAlive: time.Second, Logger: quiet},
				MinBackoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond,
				OnEvent: func(e tserver.Event) { events <- e },
			})
			c.Start(context.Background())
			t.Cleanup(c.Close)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if _, err := c.RegisterAddress(ctx, "5001"); err != nil {
				t.Fatal(err)
			}
			if c.Member() != s.Addr(link.Primary) {
				t.Fatalf("client on %s, want the primary %s", c.Member(), s.Addr(link.Primary))
			}
			if _, err := c.AgentLogin(ctx, tserver.Login{DN: "5001", Place: "Place_5001", AgentID: "1001", WorkMode: wire.WorkModeManualIn}); err != nil {
				t.Fatal(err)
			}
			if err := c.AgentReady(ctx, "5001"); err != nil {
				t.Fatal(err)
			}

			if err := s.SetMode(link.Primary, mode); err != nil {
				t.Fatal(err)
			}
			if s.Role(link.Backup) != "primary" || s.Role(link.Primary) != "backup" {
				t.Fatalf("roles after the primary's death: primary=%s backup=%s", s.Role(link.Primary), s.Role(link.Backup))
			}
			testutil.Eventually(t, "client moved to the backup", func() bool { return c.Member() == s.Addr(link.Backup) })
			info, err := c.QueryAddress(ctx, "5001")
			if err != nil {
				t.Fatal(err)
			}
			if info.AgentID != "1001" || info.State != wire.StateReady {
				t.Fatalf("backup serves %+v, want agent 1001 Ready", info)
			}
			if got := dial(t, s.Addr(link.Backup)).c.Peer().Role; got != "primary" {
				t.Fatalf("backup announces %q after taking over", got)
			}
			// The client re-registered on the backup: unsolicited events reach it there.
			s.ForceLogout("1001", "supervisor")
			waitLogout(t, events, "supervisor")
			// The old primary comes back as the backup.
			if err := s.SetMode(link.Primary, link.Up); err != nil {
				t.Fatal(err)
			}
			if s.Role(link.Primary) != "backup" || s.Role(link.Backup) != "primary" {
				t.Fatalf("roles after revival: primary=%s backup=%s", s.Role(link.Primary), s.Role(link.Backup))
			}
			snap := s.Snapshot()
			if snap.Members[0].Mode != "up" || snap.Members[1].Role != "primary" || snap.Members[1].Links == 0 {
				t.Fatalf("members %+v", snap.Members)
			}
		})
	}
}

// A blackholed member answers nothing and sends nothing, not even the
// unsolicited events of DNs registered on it.
func TestBlackholeIsSilent(t *testing.T) {
	s, _ := start(t, nil)
	desk := registered(t, s.Addr(link.Primary), "5001", wire.StateLoggedOut)
	s.SetMode(link.Primary, link.Blackhole)
	s.SetDNInService("5001", true, "")
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := desk.c.Request(ctx, wire.Message{Name: wire.RequestQueryAddress, Attrs: dnAttrs("5001")}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("blackholed member answered: %v", err)
	}
	select {
	case m := <-desk.events:
		t.Fatalf("blackholed member sent %s", m)
	default:
	}
	s.SetMode(link.Primary, link.Up)
	desk.ok(wire.RequestQueryAddress, dnAttrs("5001"), wire.EventAddressInfo)
}

func TestNewChecksOptions(t *testing.T) {
	for name, o := range map[string]Options{
		"site 3":          {Site: 3, Dir: testDir(), PrimaryAddr: ":0", BackupAddr: ":0"},
		"no directory":    {Site: 1, PrimaryAddr: ":0", BackupAddr: ":0"},
		"no backup":       {Site: 1, Dir: testDir(), PrimaryAddr: ":0"},
		"bad backup addr": {Site: 1, Dir: testDir(), PrimaryAddr: "127.0.0.1:0", BackupAddr: "127.0.0.1:99999"},
	} {
		if s, err := New(o); err == nil {
			s.Close()
			t.Errorf("%s: New accepted %+v", name, o)
		}
	}
}

// waitLogout waits for the client's EventAgentLogout and checks its ReasonCode.
func waitLogout(t *testing.T, events <-chan tserver.Event, reason string) {
	t.Helper()
	timeout := time.After(testutil.Wait)
	for {
		select {
		case e := <-events:
			if e.Name != wire.EventAgentLogout {
				continue
			}
			if e.ReasonCode != reason {
				t.Fatalf("EventAgentLogout %+v, want ReasonCode %q", e, reason)
			}
			return
		case <-timeout:
			t.Fatalf("no EventAgentLogout within %v", testutil.Wait)
		}
	}
}
