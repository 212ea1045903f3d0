package main

import (
	"testing"
	"time"

	"github.com/tandem-softphone/tandem/internal/testutil"
	"github.com/tandem-softphone/tandem/sitesim"
	"github.com/tandem-softphone/tandem/wire"
)

// End to end, the simulator, the real SIP endpoint and the headless
// desktop as a process: a call to the echo number survives a re-launch of
// the endpoint and then a switchover, with its audio flowing both ways
// before and after each step (counted by the desktop and the simulator).
//
//   - BC-18, BC-30: expire-registration lets the registration at site 1
//     expire; the site's SIP Server logs the agent out with dr-force_logout;
//     the desktop re-launches its endpoint, storing and restoring the call,
//     and logs the agent back in at site 1.
//   - BC-19, BC-20: a graceful shutdown of site 1 logs the agent out with
//     graceful_shutdown_logout; the desktop switches over to site 2 at once,
//     with the call up: the endpoint stays registered at both sites, and
//     the call's dialog goes on through site 1's SIP proxy.
//
// The simulator's T-Server logs a busy agent out at the end of its call
// (its model of a graceful shutdown); a SIP Server that does not wait
// sends the logout during the call, which the test does through the
// control interface's force-logout with that reason.
func TestCallSurvivesRelaunchAndSwitchover(t *testing.T) {
	sim, cfgFile, pwFile := startSimFor(t, sitesim.DemoPassword)
	p := startDesktop(t, "--headless", "--config", cfgFile, "--password-file", pwFile,
		"--state-dir", t.TempDir(), "--sip-expires", "2s", "--log-level", "debug")
	p.await(t, "started line", event("started", "user", "agent1"))
	loggedIn(t, p, 1, "NotReady", "")
	p.send(t, `{"cmd":"ready"}`)
	p.await(t, "ready reply", event("reply", "cmd", "ready", "ok", true))
	loggedIn(t, p, 1, "Ready", "")

	id, m := dialEcho(t, p, sim)
	t.Logf("call up: %v", m)

	// BC-18, BC-30: the re-launch keeps the call.
	began := time.Now()
	p.send(t, `{"cmd":"expire-registration","site":1}`)
	p.await(t, "expire-registration reply", event("reply", "cmd", "expire-registration", "ok", true))
	p.await(t, "relaunch-started", event("relaunch-started", "from", 1, "to", 1))
	fin := p.await(t, "relaunch-finished", event("relaunch-finished", "to", 1, "ok", true))
	loggedIn(t, p, 1, "Ready", "")
	m = audioFlows(t, p, sim, id, m, 25)
	t.Logf("re-launched in %v ms (%v after the expiry was asked); audio: %v", fin["duration_ms"], time.Since(began), m)

	// BC-19, BC-20: the switchover keeps the call.
	ctl := sitesim.NewClient(sim.ControlAddr())
	ctx := testutil.Context(t)
	if err := ctl.GracefulShutdown(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if err := ctl.ForceLogout(ctx, 1, "agent1", wire.ReasonGracefulShutdownLogout); err != nil {
		t.Fatal(err)
	}
	p.await(t, "switchover-started", event("switchover-started", "from", 1, "to", 2))
	fin = p.await(t, "switchover-finished", event("switchover-finished", "from", 1, "to", 2, "ok", true))
	loggedIn(t, p, 2, "Ready", "") // BC-23
	m = audioFlows(t, p, sim, id, m, 25)
	t.Logf("switched over in %v ms; audio: %v", fin["duration_ms"], m)

	hangupEcho(t, p, sim, id)
	p.send(t, `{"cmd":"quit"}`)
	p.await(t, "quit reply", event("reply", "cmd", "quit", "ok", true))
	if code := p.wait(t); code != 0 {
		t.Fatalf("exit code %d", code)
	}
}
