package tserver_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/tandem-softphone/tandem/internal/testutil"
	"github.com/tandem-softphone/tandem/link"
	"github.com/tandem-softphone/tandem/sitesim"
	"github.com/tandem-softphone/tandem/tserver"
	"github.com/tandem-softphone/tandem/wire"
)

// The demo's agent1: agent id 1001, DN 5001 and Place_5001_A at site 1.
const (
	agentID = "1001"
	dn      = "5001"
	place   = "Place_5001_A"
)

func startSim(t *testing.T, allowOutOfService bool) *sitesim.Sim {
	t.Helper()
	sim := sitesim.New(sitesim.Options{
		Sites:                  sitesim.EphemeralAddrs(),
		ControlAddr:            "127.0.0.1:0",
		AllowLoginOutOfService: allowOutOfService,
		Logger:                 testutil.Quiet(),
	})
	ctx, cancel := context.WithCancel(context.Background())
	if err := sim.Start(ctx); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close(); cancel() })
	return sim
}

func site(t *testing.T, sim *sitesim.Sim, n int) *sitesim.Site {
	t.Helper()
	s, err := sim.Site(n)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// events collects a client's events for assertions.
type events struct {
	*testutil.Recorder[tserver.Event]
}

// next waits for the next event named name, skipping others.
func (e events) next(t *testing.T, name string) tserver.Event {
	t.Helper()
	return e.Await(t, name, func(ev tserver.Event) bool { return ev.Name == name })
}

func (e events) count(name string) int {
	return e.Count(func(ev tserver.Event) bool { return ev.Name == name })
}

func connect(t *testing.T, s *sitesim.Site, keepAlive time.Duration) (*tserver.Client, events) {
	t.Helper()
	ev := events{testutil.NewRecorder[tserver.Event]()}
	a := s.Addrs()
	c := tserver.New(tserver.Options{
		Name: fmt.Sprintf("site%d", s.Number()), Primary: a.TServerPrimary, Backup: a.TServerBackup,
		Link:       link.Options{AppName: "tandem-test", KeepAlive: keepAlive, RemoteKeepAlive: keepAlive, Logger: testutil.Quiet()},
		MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
		OnEvent: ev.Add,
	})
	c.Start(context.Background())
	t.Cleanup(c.Close)
	ev.next(t, tserver.EventLinkConnected)
	return c, ev
}

func login(t *testing.T, c *tserver.Client) {
	t.Helper()
	if _, err := c.RegisterAddress(testutil.Context(t), dn); err != nil {
		t.Fatal(err)
	}
	info, err := c.AgentLogin(testutil.Context(t), tserver.Login{DN: dn, Place: place, AgentID: agentID, WorkMode: wire.WorkModeManualIn})
	if err != nil {
		t.Fatal(err)
	}
	if info.State != wire.StateNotReady {
		t.Fatalf("after login: %q, want NotReady", info.State)
	}
}

// sipRegister registers dn's phone at a site's registrar, as the embedded endpoint would.
func sipRegister(t *testing.T, s *sitesim.Site, dn string, expires int) {
	t.Helper()
	ua, err := sipgo.NewUA()
	if err != nil {
		t.Fatal(err)
	}
	defer ua.Close()
	cl, err := sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	reg := s.Registrar().UDPAddr()
	recipient := sip.Uri{User: dn, Host: reg.IP.String(), Port: reg.Port}
	req := sip.NewRequest(sip.REGISTER, recipient)
	req.AppendHeader(sip.NewHeader("Contact", fmt.Sprintf("<sip:%s@127.0.0.1:5999>", dn)))
	req.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(expires)))
	res, err := cl.Do(testutil.Context(t), req)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode == sip.StatusUnauthorized {
		res, err = cl.DoDigestAuth(testutil.Context(t), req, res, sipgo.DigestAuth{Username: dn, Password: sitesim.DemoSIPPassword})
		if err != nil {
			t.Fatal(err)
		}
	}
	if res.StatusCode != sip.StatusOK {
		t.Fatalf("REGISTER %s: %d %s", dn, res.StatusCode, res.Reason)
	}
}

// BC-12, BC-16: login, Ready, NotReady with a reason, and a manual logout
// (no ReasonCode) through the simulator's T-Server.
func TestAgentStateCycle(t *testing.T) {
	sim := startSim(t, false)
	s1 := site(t, sim, 1)
	c, ev := connect(t, s1, 0)
	if _, err := c.RegisterAddress(testutil.Context(t), dn); err != nil {
		t.Fatal(err)
	}
	// No phone registered at this site: the login is refused, as SIP Server does.
	_, err := c.AgentLogin(testutil.Context(t), tserver.Login{DN: dn, Place: place, AgentID: agentID, WorkMode: wire.WorkModeManualIn})
	if !tserver.IsRefused(err, wire.ErrCodeOutOfService) {
		t.Fatalf("login with no phone: %v", err)
	}
	sipRegister(t, s1, dn, 60)
	ev.next(t, wire.EventDNBackInService)
	login(t, c)
	if e := ev.next(t, wire.EventAgentLogin); e.AgentID != agentID || e.DN != dn {
		t.Fatalf("login event %+v", e)
	}
	if err := c.AgentReady(testutil.Context(t), dn); err != nil {
		t.Fatal(err)
	}
	if e := ev.next(t, wire.EventAgentReady); e.State != wire.StateReady {
		t.Fatalf("ready event %+v", e)
	}
	if err := c.AgentNotReady(testutil.Context(t), dn, wire.WorkModeAuxWork, "Break"); err != nil {
		t.Fatal(err)
	}
	if e := ev.next(t, wire.EventAgentNotReady); e.State != wire.StateNotReady || e.ReasonCode != "Break" {
		t.Fatalf("not ready event %+v", e)
	}
	info, err := c.QueryAddress(testutil.Context(t), dn)
	if err != nil || info.State != wire.StateNotReady || info.Reason != "Break" || !info.InService {
		t.Fatalf("query %+v %v", info, err)
	}
	if err := c.AgentNotReady(testutil.Context(t), dn, wire.WorkModeAfterCallWork, ""); err != nil {
		t.Fatal(err)
	}
	if e := ev.next(t, wire.EventAgentNotReady); e.State != wire.StateAfterCallWork {
		t.Fatalf("ACW event %+v", e)
	}
	if err := c.AgentLogout(testutil.Context(t), dn); err != nil {
		t.Fatal(err)
	}
	if e := ev.next(t, wire.EventAgentLogout); e.ReasonCode != "" || e.State != wire.StateLoggedOut {
		t.Fatalf("manual logout carries %+v", e)
	}
}

// BC-4: the death of the primary T-Server is invisible to the client: no
// link-status event, the agent's state is kept, requests keep working.
func TestPrimaryDeathInvisible(t *testing.T) {
	for _, mode := range []sitesim.FaultMode{sitesim.ModeClose, sitesim.ModeBlackhole} {
		t.Run(string(mode), func(t *testing.T) {
			sim := startSim(t, true)
			s1 := site(t, sim, 1)
			c, ev := connect(t, s1, 300*time.Millisecond)
			login(t, c)
			if c.Member() != s1.Addrs().TServerPrimary {
				t.Fatalf("serving member %q, want the primary", c.Member())
			}
			if err := s1.Kill(sitesim.ServerTServerPrimary, mode); err != nil {
				t.Fatal(err)
			}
			testutil.Eventually(t, "client on the backup", func() bool { return c.Member() == s1.Addrs().TServerBackup })
			if err := c.AgentReady(testutil.Context(t), dn); err != nil {
				t.Fatalf("ready through the backup: %v", err)
			}
			ev.next(t, wire.EventAgentReady)
			if n := ev.count(tserver.EventLinkDisconnected); n != 0 {
				t.Fatalf("%d EventLinkDisconnected: the failover was visible", n)
			}
			if c.Status() != link.On {
				t.Fatal("telephony service not ON")
			}
		})
	}
}

// BC-5, BC-13's input: a blackholed T-Server pair (TCP up, nothing answered)
// is detected by keep-alive within its timeout and the service goes OFF;
// when it answers again the service is ON and the agent still logged in.
func TestBlackholedPairDetectedByKeepAlive(t *testing.T) {
	sim := startSim(t, true)
	s1 := site(t, sim, 1)
	const T = 400 * time.Millisecond
	c, ev := connect(t, s1, T)
	login(t, c)
	start := time.Now()
	if err := s1.Kill(sitesim.ServerTServer, sitesim.ModeBlackhole); err != nil {
		t.Fatal(err)
	}
	ev.next(t, tserver.EventLinkDisconnected)
	if d := time.Since(start); d < T {
		t.Fatalf("OFF after %v, before one keep-alive timeout", d)
	}
	if c.Status() != link.Off {
		t.Fatal("status not OFF")
	}
	if err := s1.Revive(sitesim.ServerTServer); err != nil {
		t.Fatal(err)
	}
	ev.next(t, tserver.EventLinkConnected)
	info, err := c.QueryAddress(testutil.Context(t), dn)
	if err != nil || info.AgentID != agentID {
		t.Fatalf("after revive: %+v %v", info, err)
	}
}

// BC-18: an expired SIP registration logs the agent out with
// dr-force_logout; a new registration gives EventDNBackInService.
func TestExpiredRegistrationForcesLogout(t *testing.T) {
	sim := startSim(t, false)
	s1 := site(t, sim, 1)
	c, ev := connect(t, s1, 0)
	if _, err := c.RegisterAddress(testutil.Context(t), dn); err != nil {
		t.Fatal(err)
	}
	sipRegister(t, s1, dn, 60)
	ev.next(t, wire.EventDNBackInService)
	login(t, c)
	if err := s1.ExpireRegistration(dn); err != nil {
		t.Fatal(err)
	}
	ev.next(t, wire.EventDNOutOfService)
	e := ev.next(t, wire.EventAgentLogout)
	if e.ReasonCode != wire.ReasonDRForceLogout {
		t.Fatalf("logout reason %q, want %q", e.ReasonCode, wire.ReasonDRForceLogout)
	}
	sipRegister(t, s1, dn, 60)
	ev.next(t, wire.EventDNBackInService)
	login(t, c) // the desktop's re-login after EventDNBackInService
}

// BC-18 with a real expiry: the phone stops refreshing and the binding runs out.
func TestRegistrationRunsOut(t *testing.T) {
	sim := startSim(t, false)
	s1 := site(t, sim, 1)
	c, ev := connect(t, s1, 0)
	if _, err := c.RegisterAddress(testutil.Context(t), dn); err != nil {
		t.Fatal(err)
	}
	sipRegister(t, s1, dn, 2)
	ev.next(t, wire.EventDNBackInService)
	ev.next(t, wire.EventDNOutOfService)
}

// BC-19: graceful shutdown logs the agent out with graceful_shutdown_logout
// and refuses new logins at that site.
func TestGracefulShutdown(t *testing.T) {
	sim := startSim(t, true)
	s1 := site(t, sim, 1)
	c, ev := connect(t, s1, 0)
	login(t, c)
	s1.GracefulShutdown()
	if e := ev.next(t, wire.EventAgentLogout); e.ReasonCode != wire.ReasonGracefulShutdownLogout {
		t.Fatalf("reason %q", e.ReasonCode)
	}
	_, err := c.AgentLogin(testutil.Context(t), tserver.Login{DN: dn, Place: place, AgentID: agentID})
	if !tserver.IsRefused(err, wire.ErrCodeShuttingDown) {
		t.Fatalf("login during shutdown: %v", err)
	}
}

// BC-17: a supervisor's forced logout carries the supervisor's reason code.
func TestSupervisorLogout(t *testing.T) {
	sim := startSim(t, true)
	s1 := site(t, sim, 1)
	c, ev := connect(t, s1, 0)
	login(t, c)
	if err := s1.ForceLogout(agentID, "supervisor_end_of_shift"); err != nil {
		t.Fatal(err)
	}
	if e := ev.next(t, wire.EventAgentLogout); e.ReasonCode != "supervisor_end_of_shift" {
		t.Fatalf("reason %q", e.ReasonCode)
	}
}

// The private service answers what the standard requests lack.
func TestPrivateService(t *testing.T) {
	sim := startSim(t, true)
	c, _ := connect(t, site(t, sim, 2), 0)
	if _, err := c.RegisterAddress(testutil.Context(t), "6001"); err != nil {
		t.Fatal(err)
	}
	ext, err := c.PrivateService(testutil.Context(t), "6001", 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(ext) == 0 {
		t.Fatal("empty site info")
	}
	if _, err := c.PrivateService(testutil.Context(t), "6001", 999, nil); !tserver.IsRefused(err, wire.ErrCodeInvalidAttribute) && err == nil {
		t.Fatal("unknown private service accepted")
	}
}

// A request to a pair that is down fails at once with a clear error, and a
// request the server never answers times out with one.
func TestRequestErrors(t *testing.T) {
	sim := startSim(t, true)
	s1 := site(t, sim, 1)
	c, ev := connect(t, s1, 0)
	if err := s1.Kill(sitesim.ServerTServer, sitesim.ModeClose); err != nil {
		t.Fatal(err)
	}
	ev.next(t, tserver.EventLinkDisconnected)
	_, err := c.RegisterAddress(testutil.Context(t), dn)
	if err == nil {
		t.Fatal("request while OFF succeeded")
	}
	t.Logf("while OFF: %v", err)
	s1.Revive(sitesim.ServerTServer)
	ev.next(t, tserver.EventLinkConnected)
	c2 := tserver.New(tserver.Options{Name: "site1", Primary: s1.Addrs().TServerPrimary, RequestTimeout: 200 * time.Millisecond, Link: link.Options{Logger: testutil.Quiet()}})
	c2.Start(context.Background())
	defer c2.Close()
	if _, err := c2.RegisterAddress(context.Background(), dn); err != nil {
		t.Fatal(err)
	}
	s1.Kill(sitesim.ServerTServerPrimary, sitesim.ModeBlackhole)
	_, err = c2.QueryAddress(context.Background(), dn)
	if err == nil {
		t.Fatal("no timeout")
	}
	t.Logf("timeout: %v", err)
}
