package confserv_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/tandem-softphone/tandem/confserv"
	"github.com/tandem-softphone/tandem/internal/testutil"
	"github.com/tandem-softphone/tandem/link"
	"github.com/tandem-softphone/tandem/sitesim/confsim"
	"github.com/tandem-softphone/tandem/sitesim/directory"
	"github.com/tandem-softphone/tandem/wire"
)

const (
	password    = "pa55-Secret-5320"
	sipPassword = "sip-Secret-5320"
)

func testDir() *directory.Directory {
	d := directory.NewDirectory()
	d.AddApplication(directory.Application{
		Name: "AIL_Site1", Site: 1,
		Options: directory.Options{wire.SectionAgentDesktop: {
			wire.OptSiteTimeout:        "30",
			wire.OptSIPRegisterTimeout: "20",
		}},
		Connections: []directory.Connection{
			{Type: wire.ConnTypeTServer, Primary: "127.0.0.1:7001", Backup: "127.0.0.1:7002"},
			{Type: wire.ConnTypeSIPRegistrar, Primary: "127.0.0.1:5060", Transport: "udp,tcp"},
		},
	})
	d.AddApplication(directory.Application{Name: "AIL_Site2", Site: 2})
	d.AddPerson(directory.Person{
		UserName: "SIP_5320", Password: password, AgentID: "5320", FirstName: "Ann", LastName: "Lee",
		Annex:  directory.Options{wire.SectionAgentDesktop: {wire.OptSite1: "AIL_Site2", wire.OptSite2: "AIL_Site1"}},
		Places: [2]string{"Place_5320", "Place_5320_B"},
		DNs:    [2]string{"5320", "7320"},
	}, sipPassword)
	// The seed sample's aliases instead of site-1/site-2.
	d.AddPerson(directory.Person{
		UserName: "SIP_5321", Password: "other", AgentID: "5321",
		Annex: directory.Options{wire.SectionAgentDesktop: {
			wire.OptPreferredSite: "AIL_Site2",
			wire.OptDRTimeout:     "45",
		}},
		Places: [2]string{"Place_5321", "Place_5321"},
		DNs:    [2]string{"5321", "5321"},
	}, "sip-other")
	return d
}

type fixture struct {
	dir *directory.Directory
	sim *confsim.Pair
	log *testutil.SyncBuffer // every log line, to check that no password is in it
	lg  *slog.Logger
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	f := &fixture{dir: testDir(), log: &testutil.SyncBuffer{}}
	f.lg = slog.New(slog.NewTextHandler(f.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	f.sim = confsim.New(confsim.Options{
		Dir: f.dir, Site: 1, PrimaryAddr: "127.0.0.1:0", BackupAddr: "127.0.0.1:0",
		Link: link.Options{Logger: f.lg},
	})
	if err := f.sim.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.sim.Close)
	return f
}

func (f *fixture) client(t testing.TB, user, pw, app string, st *testutil.Recorder[link.Status]) *confserv.Client {
	t.Helper()
	p, b := f.sim.Addrs()
	opts := confserv.Options{
		Name: "site1", Primary: p, Backup: b,
		Link:     link.Options{KeepAlive: 200 * time.Millisecond, HandshakeTimeout: time.Second, Logger: f.lg},
		UserName: user, Password: pw, Application: app,
		MinBackoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond,
	}
	if st != nil {
		opts.OnStatus = st.Add
	}
	c := confserv.New(opts)
	c.Start(context.Background())
	t.Cleanup(c.Close)
	return c
}

// BC-10: authenticate with user name and password against an application.
func TestAuthenticate(t *testing.T) {
	f := newFixture(t)
	st := testutil.NewRecorder[link.Status]()
	c := f.client(t, "SIP_5320", password, "AIL_Site1", st)
	p, err := c.Authenticated(testutil.Context(t))
	if err != nil {
		t.Fatal(err)
	}
	want := confserv.Person{UserName: "SIP_5320", AgentID: "5320", FirstName: "Ann", LastName: "Lee"}
	if p.UserName != want.UserName || p.AgentID != want.AgentID || p.FirstName != want.FirstName || p.LastName != want.LastName || p.Annex != nil {
		t.Fatalf("authenticated person %+v, want %+v", p, want)
	}
	testutil.WantNext(t, st, link.On)
	if c.Status() != link.On {
		t.Fatal("status not ON")
	}
	primary, _ := f.sim.Addrs()
	if c.Member() != primary {
		t.Fatalf("member %s, want the primary %s", c.Member(), primary)
	}
	if strings.Contains(f.log.String(), password) {
		t.Fatal("the password is in the log")
	}
}

func TestAuthenticationRefused(t *testing.T) {
	for _, tc := range []struct {
		name, user, pw, app string
		want, notWant       error
	}{
		{"wrong password", "SIP_5320", "wrong-" + password, "AIL_Site1", confserv.ErrAuth, confserv.ErrUnknownApplication},
		{"unknown user", "SIP_9999", password, "AIL_Site1", confserv.ErrAuth, confserv.ErrUnknownApplication},
		{"unknown application", "SIP_5320", password, "AIL_Nowhere", confserv.ErrUnknownApplication, confserv.ErrAuth},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			st := testutil.NewRecorder[link.Status]()
			c := f.client(t, tc.user, tc.pw, tc.app, st)
			_, err := c.Authenticated(testutil.Context(t))
			if !errors.Is(err, tc.want) || errors.Is(err, tc.notWant) {
				t.Fatalf("error %v: want %v and not %v", err, tc.want, tc.notWant)
			}
			testutil.WantNext(t, st, link.Off)
			// The client gave up: reads report the same refusal, not a generic OFF.
			if _, err := c.Person(testutil.Context(t), tc.user); !errors.Is(err, tc.want) {
				t.Fatalf("read after refusal: %v, want %v", err, tc.want)
			}
			if strings.Contains(f.log.String(), password) {
				t.Fatalf("a password is in the log:\n%s", f.log)
			}
		})
	}
}

// BC-8: the person's preferred site (site-1) and the other one (site-2).
func TestPersonPreferredSites(t *testing.T) {
	f := newFixture(t)
	c := f.client(t, "SIP_5320", password, "AIL_Site1", nil)
	p, err := c.Person(testutil.Context(t), "SIP_5320")
	if err != nil {
		t.Fatal(err)
	}
	if s1, s2 := p.PreferredSites(); s1 != "AIL_Site2" || s2 != "AIL_Site1" {
		t.Fatalf("preferred sites %q, %q", s1, s2)
	}
	if p.AgentID != "5320" || p.FirstName != "Ann" {
		t.Fatalf("person %+v", p)
	}
	if _, ok := p.SiteTimeout(); ok {
		t.Fatal("site timeout alias reported without being set")
	}
	if _, err := c.Person(testutil.Context(t), "SIP_9999"); !errors.Is(err, confserv.ErrNotFound) {
		t.Fatalf("unknown person: %v", err)
	}
}

// BC-8: the seed sample's disaster-recovery.preferred-site and
// disaster-recovery.timeout are accepted as aliases.
func TestPersonAliases(t *testing.T) {
	f := newFixture(t)
	c := f.client(t, "SIP_5320", password, "AIL_Site1", nil)
	p, err := c.Person(testutil.Context(t), "SIP_5321")
	if err != nil {
		t.Fatal(err)
	}
	if s1, s2 := p.PreferredSites(); s1 != "AIL_Site2" || s2 != "" {
		t.Fatalf("preferred sites %q, %q", s1, s2)
	}
	if d, ok := p.SiteTimeout(); !ok || d != 45*time.Second {
		t.Fatalf("site timeout alias %v %v", d, ok)
	}
}

// BC-7: site-timeout and site-sip-register-timeout; absent, empty, 0 or bad
// values disable the switchover they drive, and a bad one is reported.
func TestApplicationTimeouts(t *testing.T) {
	f := newFixture(t)
	c := f.client(t, "SIP_5320", password, "AIL_Site1", nil)
	a, err := c.Application(testutil.Context(t), "AIL_Site1")
	if err != nil {
		t.Fatal(err)
	}
	if a.SiteTimeout() != 30*time.Second || a.SIPRegisterTimeout() != 20*time.Second || a.Site != 1 {
		t.Fatalf("timeouts %v %v site %d", a.SiteTimeout(), a.SIPRegisterTimeout(), a.Site)
	}
	ts, ok := a.Connection(wire.ConnTypeTServer)
	if !ok || ts.Primary != "127.0.0.1:7001" || ts.Backup != "127.0.0.1:7002" {
		t.Fatalf("T-Server connection %+v %v", ts, ok)
	}
	if sip, ok := a.Connection(wire.ConnTypeSIPRegistrar); !ok || sip.Transport != "udp,tcp" {
		t.Fatalf("SIP connection %+v", sip)
	}

	for _, tc := range []struct {
		value   string // "" deletes the option
		want    time.Duration
		badNote bool
	}{
		{"", 0, false},
		{"0", 0, false},
		{" 15 ", 15 * time.Second, false},
		{"thirty", 0, true},
		{"-5", 0, true},
		{"1.5", 0, true},
	} {
		for _, key := range []string{wire.OptSiteTimeout, wire.OptSIPRegisterTimeout} {
			if err := f.dir.SetOption("AIL_Site1", wire.SectionAgentDesktop, key, tc.value); err != nil {
				t.Fatal(err)
			}
		}
		a, err := c.Application(testutil.Context(t), "AIL_Site1")
		if err != nil {
			t.Fatal(err)
		}
		if a.SiteTimeout() != tc.want || a.SIPRegisterTimeout() != tc.want {
			t.Errorf("value %q: timeouts %v %v, want %v", tc.value, a.SiteTimeout(), a.SIPRegisterTimeout(), tc.want)
		}
		if err := a.Check(); (err != nil) != tc.badNote {
			t.Errorf("value %q: Check() = %v", tc.value, err)
		}
	}
	if !strings.Contains(f.log.String(), "bad option ignored") {
		t.Fatal("bad option values were not logged")
	}

	// An application without an agent-desktop section at all.
	a2, err := c.Application(testutil.Context(t), "AIL_Site2")
	if err != nil {
		t.Fatal(err)
	}
	if a2.SiteTimeout() != 0 || a2.SIPRegisterTimeout() != 0 || a2.Check() != nil || a2.Site != 2 {
		t.Fatalf("empty application %+v", a2)
	}
	if _, err := c.Application(testutil.Context(t), "AIL_Nowhere"); !errors.Is(err, confserv.ErrNotFound) {
		t.Fatalf("unknown application: %v", err)
	}
}

// BC-3: a place per site, and the SIP password of the person's own DNs only.
func TestPlaceAndDNPassword(t *testing.T) {
	f := newFixture(t)
	c := f.client(t, "SIP_5320", password, "AIL_Site1", nil)
	pl, err := c.Place(testutil.Context(t), "Place_5320_B")
	if err != nil {
		t.Fatal(err)
	}
	if pl.DN != "7320" || pl.Site != 2 {
		t.Fatalf("place %+v", pl)
	}
	if _, err := c.Place(testutil.Context(t), "Place_Nowhere"); !errors.Is(err, confserv.ErrNotFound) {
		t.Fatalf("unknown place: %v", err)
	}
	for _, tc := range []struct {
		site int
		dn   string
	}{{1, "5320"}, {2, "7320"}} {
		pw, err := c.DNPassword(testutil.Context(t), tc.site, tc.dn)
		if err != nil || pw != sipPassword {
			t.Fatalf("site %d DN %s: password %q, %v", tc.site, tc.dn, pw, err)
		}
	}
	// Another person's DN, this person's DN at the wrong site, an unknown DN.
	for _, tc := range []struct {
		site int
		dn   string
	}{{1, "5321"}, {2, "5320"}, {1, "0000"}} {
		if _, err := c.DNPassword(testutil.Context(t), tc.site, tc.dn); !errors.Is(err, confserv.ErrNotFound) {
			t.Fatalf("site %d DN %s: %v, want ErrNotFound", tc.site, tc.dn, err)
		}
	}
	if strings.Contains(f.log.String(), sipPassword) {
		t.Fatal("a SIP password is in the log")
	}
}

// BC-4: the primary's death, closed or blackholed, is invisible: the status
// stays ON, the client authenticates again on the backup, reads keep working.
func TestPrimaryDeathInvisible(t *testing.T) {
	for _, mode := range []link.Mode{link.Closed, link.Blackhole} {
		t.Run(mode.String(), func(t *testing.T) {
			f := newFixture(t)
			st := testutil.NewRecorder[link.Status]()
			c := f.client(t, "SIP_5320", password, "AIL_Site1", st)
			if _, err := c.Authenticated(testutil.Context(t)); err != nil {
				t.Fatal(err)
			}
			testutil.WantNext(t, st, link.On)
			if err := f.sim.SetMode(link.Primary, mode); err != nil {
				t.Fatal(err)
			}
			// A read issued at once rides over the failover.
			p, err := c.Person(testutil.Context(t), "SIP_5320")
			if err != nil {
				t.Fatal(err)
			}
			if s1, _ := p.PreferredSites(); s1 != "AIL_Site2" {
				t.Fatalf("preferred site %q", s1)
			}
			_, backup := f.sim.Addrs()
			testutil.Eventually(t, "client on the backup", func() bool { return c.Member() == backup })
			// The backup refuses reads on an unauthenticated link: this one
			// works because the client authenticated again.
			if _, err := c.DNPassword(testutil.Context(t), 1, "5320"); err != nil {
				t.Fatal(err)
			}
			if got := st.All(); len(got) != 1 || got[0] != link.On || c.Status() != link.On {
				t.Fatalf("status changes %v, want only the first ON", got)
			}
		})
	}
}

// BC-14: with both members down the configuration service is OFF and says
// so; reads fail at once; it is ON again when one member returns.
func TestBothDownOff(t *testing.T) {
	f := newFixture(t)
	st := testutil.NewRecorder[link.Status]()
	c := f.client(t, "SIP_5320", password, "AIL_Site1", st)
	testutil.WantNext(t, st, link.On)
	f.sim.SetMode(link.Primary, link.Closed)
	f.sim.SetMode(link.Backup, link.Blackhole)
	testutil.WantNext(t, st, link.Off)
	if c.Status() != link.Off {
		t.Fatal("status not OFF")
	}
	if _, err := c.Person(testutil.Context(t), "SIP_5320"); !errors.Is(err, link.ErrServiceOff) {
		t.Fatalf("read while OFF: %v", err)
	}
	f.sim.SetMode(link.Primary, link.Up)
	testutil.WantNext(t, st, link.On)
	if _, err := c.Person(testutil.Context(t), "SIP_5320"); err != nil {
		t.Fatal(err)
	}
}

func BenchmarkReadPerson(b *testing.B) {
	f := newFixture(b)
	f.lg = testutil.Quiet()
	c := f.client(b, "SIP_5320", password, "AIL_Site1", nil)
	if _, err := c.Authenticated(testutil.Context(b)); err != nil {
		b.Fatal(err)
	}
	bg := context.Background()
	for b.Loop() {
		if _, err := c.Person(bg, "SIP_5320"); err != nil {
			b.Fatal(err)
		}
	}
}
