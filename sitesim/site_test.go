package sitesim

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tandem-softphone/tandem/confserv"
	"github.com/tandem-softphone/tandem/internal/testutil"
	"github.com/tandem-softphone/tandem/link"
	"github.com/tandem-softphone/tandem/sitesim/registrar"
	"github.com/tandem-softphone/tandem/statserv"
	"github.com/tandem-softphone/tandem/wire"
)

// BC-18, end to end: the phone's SIP registration at the site drives the DN.
// A registration gives EventDNBackInService; its expiry gives
// EventDNOutOfService and, for the agent logged in there, EventAgentLogout
// with ReasonCode dr-force_logout; registering again gives
// EventDNBackInService.
func TestSIPRegistrationDrivesDN(t *testing.T) {
	t.Parallel()
	s := startSim(t, nil)
	s1 := site(t, s, 1)
	d := newDesk(t, s1)
	if _, err := d.c.RegisterAddress(testutil.Context(t), "5001"); err != nil {
		t.Fatal(err)
	}
	if dnStatus(t, s, 1, "5001").InService {
		t.Fatal("DN in service before its phone registered")
	}

	sipRegister(t, s1, "5001", 3600)
	d.waitEvent(wire.EventDNBackInService, "")
	st := dnStatus(t, s, 1, "5001")
	if !st.InService || len(st.Registrations) != 1 || !strings.Contains(st.Registrations[0].Contact, "5001@127.0.0.1:5999") {
		t.Fatalf("DN status after REGISTER: %+v", st)
	}
	if st.Registrations[0].ExpiresIn <= 0 || st.TServerLinks != 1 {
		t.Fatalf("DN status after REGISTER: %+v", st)
	}
	d.login("5001", "Place_5001_A", "1001")

	if err := s1.ExpireRegistration("5001"); err != nil {
		t.Fatal(err)
	}
	d.waitEvent(wire.EventDNOutOfService, "")
	d.waitEvent(wire.EventAgentLogout, wire.ReasonDRForceLogout)
	if st := dnStatus(t, s, 1, "5001"); st.InService || len(st.Registrations) != 0 || st.AgentID != "" {
		t.Fatalf("DN status after expiry: %+v", st)
	}
	// Site 2 is not concerned.
	if dnStatus(t, s, 2, "6001").InService {
		t.Fatal("site 2's DN changed")
	}

	sipRegister(t, s1, "5001", 3600)
	d.waitEvent(wire.EventDNBackInService, "")

	var sawLogout bool
	entries, oldest := s.Events(0)
	if oldest != 1 {
		t.Errorf("oldest event %d, want 1", oldest)
	}
	for _, e := range entries {
		if e.Event == wire.EventAgentLogout && e.Site == 1 && e.DN == "5001" && e.AgentID == "1001" && e.ReasonCode == wire.ReasonDRForceLogout {
			sawLogout = true
		}
	}
	if !sawLogout {
		t.Errorf("event log lacks the dr-force_logout: %+v", entries)
	}

	if err := s1.ExpireRegistration("5002"); !errors.Is(err, ErrNotFound) {
		t.Errorf("expire a DN without registration: %v", err)
	}
	if err := s1.ExpireRegistration("6001"); !errors.Is(err, ErrNotFound) {
		t.Errorf("expire another site's DN: %v", err)
	}
}

// BC-18 with a real expiry: the phone stops refreshing and the binding runs
// out (the simulator accepts 1 s registrations by default).
func TestRegistrationRunsOut(t *testing.T) {
	t.Parallel()
	s := startSim(t, nil)
	s2 := site(t, s, 2)
	d := newDesk(t, s2)
	if _, err := d.c.RegisterAddress(testutil.Context(t), "6002"); err != nil {
		t.Fatal(err)
	}
	sipRegister(t, s2, "6002", 1)
	d.waitEvent(wire.EventDNBackInService, "")
	e := d.waitEvent(wire.EventDNOutOfService, "")
	if r := e.Msg.Attrs.List(wire.AttrExtensions).String("Reason"); r != registrar.ReasonExpired {
		t.Fatalf("EventDNOutOfService reason %q, want %q", r, registrar.ReasonExpired)
	}
}

// BC-4: the T-Server primary dies; the desktop's client carries on with the
// backup, which serves the same agent state and announces itself primary.
func TestTServerFailoverKeepsAgents(t *testing.T) {
	t.Parallel()
	s := startSim(t, func(o *Options) { o.AllowLoginOutOfService = true })
	s2 := site(t, s, 2)
	d := newDesk(t, s2)
	d.login("6002", "Place_6002_B", "1002")
	if err := s2.Kill(ServerTServerPrimary, ModeClose); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "desk on the backup", func() bool { return d.c.Member() == s2.Addrs().TServerBackup })
	info, err := d.c.QueryAddress(testutil.Context(t), "6002")
	if err != nil {
		t.Fatal(err)
	}
	if info.AgentID != "1002" || info.State != wire.StateReady {
		t.Fatalf("backup serves %+v", info)
	}
	if b := serverStatus(t, s, 2, ServerTServerBackup); b.Role != "primary" || b.Links != 1 {
		t.Fatalf("backup status %+v", b)
	}
	if p := serverStatus(t, s, 2, ServerTServerPrimary); p.Mode != "closed" {
		t.Fatalf("primary status %+v", p)
	}
}

func TestKillAndRevive(t *testing.T) {
	t.Parallel()
	s := startSim(t, nil)
	s1 := site(t, s, 1)
	for _, c := range []struct {
		server Server
		mode   FaultMode
		want   []Server
	}{
		{ServerTServerPrimary, ModeBlackhole, []Server{ServerTServerPrimary}},
		{ServerTServer, ModeClose, []Server{ServerTServerPrimary, ServerTServerBackup}},
		{ServerConfigBackup, ModeClose, []Server{ServerConfigBackup}},
		{ServerConfig, ModeBlackhole, []Server{ServerConfigPrimary, ServerConfigBackup}},
		{ServerStat, ModeClose, []Server{ServerStatPrimary, ServerStatBackup}},
		{ServerStatPrimary, ModeBlackhole, []Server{ServerStatPrimary}},
		{ServerSIP, ModeBlackhole, []Server{ServerSIP}},
		{ServerAll, ModeClose, units},
	} {
		if err := s1.Kill(c.server, c.mode); err != nil {
			t.Fatalf("kill %s %s: %v", c.server, c.mode, err)
		}
		want := map[FaultMode]string{ModeClose: "closed", ModeBlackhole: "blackhole"}[c.mode]
		for _, u := range c.want {
			if got := serverStatus(t, s, 1, u).Mode; got != want {
				t.Errorf("kill %s %s: %s is %s", c.server, c.mode, u, got)
			}
		}
		if err := s1.Revive(ServerAll); err != nil {
			t.Fatalf("revive: %v", err)
		}
		for _, sv := range siteStatus(t, s, 1).Servers {
			if sv.Mode != "up" {
				t.Errorf("after revive: %s is %s", sv.Name, sv.Mode)
			}
		}
	}
	// Site 2 untouched throughout.
	for _, sv := range siteStatus(t, s, 2).Servers {
		if sv.Mode != "up" {
			t.Errorf("site 2 %s is %s", sv.Name, sv.Mode)
		}
	}
	if s1.Registrar().Mode() != registrar.Up {
		t.Errorf("registrar mode %v after revive", s1.Registrar().Mode())
	}
	if err := s1.Kill("tserver-middle", ModeClose); !errors.Is(err, ErrInvalid) {
		t.Errorf("unknown server: %v", err)
	}
	if err := s1.Kill(ServerAll, "explode"); !errors.Is(err, ErrInvalid) {
		t.Errorf("unknown mode: %v", err)
	}
	if err := s1.Revive(""); !errors.Is(err, ErrInvalid) {
		t.Errorf("revive of no server: %v", err)
	}
}

// The desktop's view of a site through the real clients: the application
// object's connections are the bound addresses, the person annexes carry the
// preferred sites with the BC-8 aliases, and the Stat Server serves the
// T-Server's agent statistics.
func TestDesktopView(t *testing.T) {
	t.Parallel()
	s := startSim(t, func(o *Options) { o.AllowLoginOutOfService = true })
	s2 := site(t, s, 2)
	a := s2.Addrs()

	cs := confserv.New(confserv.Options{
		Name: "site2", Primary: a.ConfigPrimary, Backup: a.ConfigBackup,
		Link:     link.Options{Logger: quiet},
		UserName: "agent3", Password: DemoPassword, Application: DemoAppSite2,
	})
	cs.Start(testutil.Context(t))
	t.Cleanup(cs.Close)
	if _, err := cs.Authenticated(testutil.Context(t)); err != nil {
		t.Fatal(err)
	}
	app, err := cs.Application(testutil.Context(t), DemoAppSite2)
	if err != nil {
		t.Fatal(err)
	}
	if app.Options[wire.SectionAgentDesktop][wire.OptSiteTimeout] != "30" ||
		app.Options[wire.SectionAgentDesktop][wire.OptSIPRegisterTimeout] != "30" {
		t.Fatalf("application options %v", app.Options)
	}
	ts, ok := app.Connection(wire.ConnTypeTServer)
	if !ok || ts.Primary != a.TServerPrimary || ts.Backup != a.TServerBackup {
		t.Fatalf("T-Server connection %+v, want %s/%s", ts, a.TServerPrimary, a.TServerBackup)
	}
	sipConns := 0
	for _, c := range app.Connections {
		if c.Type == wire.ConnTypeSIPRegistrar {
			sipConns++
		}
	}
	if sipConns == 0 {
		t.Fatalf("no SIP registrar connection in %+v", app.Connections)
	}
	// BC-8: agent3 names its preferred site with the aliases only.
	p, err := cs.Person(testutil.Context(t), "agent3")
	if err != nil {
		t.Fatal(err)
	}
	if ad := p.Annex[wire.SectionAgentDesktop]; ad["disaster-recovery.preferred-site"] != DemoAppSite2 || ad["disaster-recovery.timeout"] != "45" || ad[wire.OptSite1] != "" {
		t.Fatalf("agent3's annex %v", p.Annex)
	}

	d := newDesk(t, s2)
	d.login("6003", "Place_6003_B", "1003")
	values := make(chan statserv.Value, 100)
	sc := statserv.New(statserv.Options{
		Name: "site2", Primary: a.StatPrimary, Backup: a.StatBackup,
		Link:    link.Options{Logger: quiet},
		OnValue: func(v statserv.Value) { values <- v },
	})
	sc.Start(testutil.Context(t))
	t.Cleanup(sc.Close)
	id, err := sc.Open(testutil.Context(t), wire.StatLoginTimeToday, "1003")
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.After(testutil.Wait)
	for {
		select {
		case v := <-values:
			if v.ID == id && v.Value >= 1 {
				return
			}
		case <-deadline:
			t.Fatal("LoginTimeToday of a logged-in agent never reached 1 s")
		}
	}
}

func TestDesktopConfig(t *testing.T) {
	t.Parallel()
	s := startSim(t, nil)
	c, err := s.DesktopConfig("agent2")
	if err != nil {
		t.Fatal(err)
	}
	a1 := site(t, s, 1).Addrs()
	if c.UserName != "agent2" || c.Sites[0].TServer.Primary.String() != a1.TServerPrimary || c.Sites[0].SIP.Registrar.String() != a1.SIP {
		t.Fatalf("config %+v does not point at site 1 %+v", c.Sites[0], a1)
	}
	if c.Sites[1].Place != "Place_6002_B" || c.Sites[1].DN != "6002" || c.Sites[1].Application != DemoAppSite2 {
		t.Fatalf("site 2 of agent2: %+v", c.Sites[1])
	}
	if _, err := s.DesktopConfig("nobody"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown user: %v", err)
	}
	if _, err := DesktopConfig(Options{Sites: EphemeralAddrs()}, "agent1"); !errors.Is(err, ErrInvalid) {
		t.Errorf("DesktopConfig with port 0: %v", err)
	}
	c, err = DesktopConfig(Options{}, "agent4")
	if err != nil {
		t.Fatal(err)
	}
	if c.Sites[1].ConfigServer.Primary.String() != "127.0.0.1:7110" || c.Sites[0].SIP.Registrar.String() != "127.0.0.1:5070" {
		t.Fatalf("default demo config %+v", c.Sites)
	}
}

func TestDemoDirectory(t *testing.T) {
	d := Demo()
	for _, a := range DemoAgents() {
		p, ok := d.Person(a.UserName)
		if !ok || p.Password != DemoPassword || p.AgentID != a.AgentID {
			t.Fatalf("person %s: %+v", a.UserName, p)
		}
		for i := range 2 {
			pl, ok := d.Place(a.Places[i])
			if !ok || pl.DN != a.DNs[i] || pl.Site != i+1 {
				t.Fatalf("%s place %d: %+v", a.UserName, i+1, pl)
			}
			dn, ok := d.DN(i+1, a.DNs[i])
			if !ok || dn.SIPPassword != DemoSIPPassword {
				t.Fatalf("%s DN %d: %+v", a.UserName, i+1, dn)
			}
		}
	}
	// BC-8: agent2 prefers site 2.
	if p, _ := d.Person("agent2"); p.Annex[wire.SectionAgentDesktop][wire.OptSite1] != DemoAppSite2 {
		t.Fatalf("agent2's annex %v", p.Annex)
	}
	if p, _ := d.Person("agent1"); p.Annex[wire.SectionAgentDesktop][wire.OptSite1] != DemoAppSite1 {
		t.Fatalf("agent1's annex %v", p.Annex)
	}
}

func TestStartSiteChecks(t *testing.T) {
	for name, o := range map[string]SiteOptions{
		"site 0":       {Site: 0, Dir: Demo(), Application: DemoAppSite1},
		"no directory": {Site: 1, Application: DemoAppSite1},
		"unknown app":  {Site: 1, Dir: Demo(), Application: "Nope"},
		"bad address":  {Site: 1, Dir: Demo(), Application: DemoAppSite1, Addrs: SiteAddrs{ConfigPrimary: "nope"}},
		"bad port":     {Site: 1, Dir: Demo(), Application: DemoAppSite1, Addrs: SiteAddrs{ConfigPrimary: "127.0.0.1:0", ConfigBackup: "127.0.0.1:0", TServerPrimary: "127.0.0.1:0", TServerBackup: "127.0.0.1:99999", StatPrimary: "127.0.0.1:0", StatBackup: "127.0.0.1:0", SIP: "127.0.0.1:0"}},
	} {
		if st, err := StartSite(testutil.Context(t), o); err == nil {
			st.Close()
			t.Errorf("%s: StartSite accepted", name)
		}
	}
}
