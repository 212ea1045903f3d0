package sitesim

import (
	"context"
	"log/slog"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/tandem-softphone/tandem/internal/testutil"
	"github.com/tandem-softphone/tandem/link"
	"github.com/tandem-softphone/tandem/tserver"
	"github.com/tandem-softphone/tandem/wire"
)

var quiet = testutil.Quiet()

func TestMain(m *testing.M) {
	// sipgo's client side logs through the default logger.
	if os.Getenv("SITESIM_TEST_LOG") == "" {
		slog.SetDefault(quiet)
	}
	os.Exit(m.Run())
}

// startSim runs the demo on loopback ephemeral ports until the test ends.
func startSim(t *testing.T, edit func(*Options)) *Sim {
	t.Helper()
	opts := Options{
		Sites:        EphemeralAddrs(),
		ControlAddr:  "127.0.0.1:0",
		StatInterval: 20 * time.Millisecond,
		Logger:       quiet,
	}
	if edit != nil {
		edit(&opts)
	}
	s := New(opts)
	if err := s.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func site(t *testing.T, s *Sim, n int) *Site {
	t.Helper()
	st, err := s.Site(n)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// sipRegister registers dn's phone at the site's registrar over UDP, with
// digest authentication, as the desktop's SIP endpoint does (BC-2).
func sipRegister(t *testing.T, st *Site, dn string, expires int) {
	t.Helper()
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("test-phone"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ua.Close() })
	c, err := sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	udp := st.Registrar().UDPAddr()
	req := sip.NewRequest(sip.REGISTER, sip.Uri{Scheme: "sip", Host: "127.0.0.1", Port: udp.Port})
	aor := sip.Uri{Scheme: "sip", User: dn, Host: "127.0.0.1"}
	from := &sip.FromHeader{Address: aor}
	from.Params.Add("tag", sip.GenerateTagN(8))
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: aor})
	req.AppendHeader(sip.NewHeader("Contact", "<sip:"+dn+"@127.0.0.1:5999>"))
	req.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(expires)))
	cx := testutil.Context(t)
	res, err := c.Do(cx, req)
	if err == nil && res.StatusCode == sip.StatusUnauthorized {
		res, err = c.DoDigestAuth(cx, req, res, sipgo.DigestAuth{Username: dn, Password: DemoSIPPassword})
	}
	if err != nil {
		t.Fatalf("REGISTER %s: %v", dn, err)
	}
	if res.StatusCode != sip.StatusOK {
		t.Fatalf("REGISTER %s: %d %s", dn, res.StatusCode, res.Reason)
	}
}

// desk is the desktop's T-Server client at one site, collecting its events.
type desk struct {
	t      *testing.T
	c      *tserver.Client
	events *testutil.Recorder[tserver.Event]
}

func newDesk(t *testing.T, st *Site) *desk {
	t.Helper()
	a := st.Addrs()
	d := &desk{t: t, events: testutil.NewRecorder[tserver.Event]()}
	d.c = tserver.New(tserver.Options{
		Name: "site", Primary: a.TServerPrimary, Backup: a.TServerBackup,
		Link:       link.Options{KeepAlive: 300 * time.Millisecond, RemoteKeepAlive: time.Second, Logger: quiet},
		MinBackoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond,
		OnEvent: d.events.Add,
	})
	d.c.Start(context.Background())
	t.Cleanup(d.c.Close)
	return d
}

// waitEvent waits for an event named name (and, if reason is not empty,
// with that ReasonCode) and consumes the events up to it.
func (d *desk) waitEvent(name, reason string) tserver.Event {
	d.t.Helper()
	return d.events.Await(d.t, name+" "+reason, func(e tserver.Event) bool {
		return e.Name == name && (reason == "" || e.ReasonCode == reason)
	})
}

// login registers the agent's DN at its site and logs it in (AutoIn).
func (d *desk) login(dn, place, agentID string) {
	d.t.Helper()
	cx := testutil.Context(d.t)
	if _, err := d.c.RegisterAddress(cx, dn); err != nil {
		d.t.Fatal(err)
	}
	if _, err := d.c.AgentLogin(cx, tserver.Login{DN: dn, Place: place, AgentID: agentID, WorkMode: wire.WorkModeAutoIn}); err != nil {
		d.t.Fatal(err)
	}
}

func siteStatus(t *testing.T, s *Sim, n int) SiteStatus {
	t.Helper()
	for _, st := range s.Status().Sites {
		if st.Site == n {
			return st
		}
	}
	t.Fatalf("no site %d in status", n)
	return SiteStatus{}
}

func dnStatus(t *testing.T, s *Sim, n int, dn string) DNStatus {
	t.Helper()
	for _, d := range siteStatus(t, s, n).DNs {
		if d.DN == dn {
			return d
		}
	}
	t.Fatalf("no DN %s at site %d in status", dn, n)
	return DNStatus{}
}

func serverStatus(t *testing.T, s *Sim, n int, name Server) ServerStatus {
	t.Helper()
	for _, sv := range siteStatus(t, s, n).Servers {
		if sv.Name == name {
			return sv
		}
	}
	t.Fatalf("no server %s at site %d in status", name, n)
	return ServerStatus{}
}
