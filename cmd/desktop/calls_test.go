package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/tandem-softphone/tandem/sitesim"
)

// simEcho is the simulator's side of the desktop's call to the echo
// number: the last one, in any state.
func simEcho(t *testing.T, sim *sitesim.Sim) sitesim.CallStatus {
	t.Helper()
	var found sitesim.CallStatus
	for _, c := range sim.Calls() {
		if c.To == "9000" {
			found = c
		}
	}
	if found.ID == "" {
		t.Fatalf("no call to 9000 at the simulator: %+v", sim.Calls())
	}
	return found
}

// media is what each side has counted of a call's RTP: the desktop (from
// its state line) and the simulator.
type media struct {
	desktopSent, desktopReceived uint64
	simSent, simReceived         uint64
}

func (m media) String() string {
	return fmt.Sprintf("desktop sent %d received %d, simulator sent %d received %d",
		m.desktopSent, m.desktopReceived, m.simSent, m.simReceived)
}

// callMedia reads both sides' counters of the call id; ok is false when
// the desktop has no such call connected.
func callMedia(t *testing.T, p *desktopProc, sim *sitesim.Sim, id string) (m media, ok bool) {
	t.Helper()
	calls, _ := p.state(t)["calls"].([]any)
	for _, c := range calls {
		c, _ := c.(map[string]any)
		if c["id"] == id && c["state"] == "connected" {
			ok = true
			sent, _ := c["packets_sent"].(float64)
			received, _ := c["packets_received"].(float64)
			m.desktopSent, m.desktopReceived = uint64(sent), uint64(received)
		}
	}
	e := simEcho(t, sim)
	m.simSent, m.simReceived = e.PacketsSent, e.PacketsReceived
	return m, ok
}

// audioFlows waits until the call is connected and both sides have
// counted at least n more packets each way than in since; it returns the
// counters then.
func audioFlows(t *testing.T, p *desktopProc, sim *sitesim.Sim, id string, since media, n uint64) media {
	t.Helper()
	deadline := time.Now().Add(waitLine)
	for {
		m, ok := callMedia(t, p, sim, id)
		if ok && m.desktopSent >= since.desktopSent+n && m.desktopReceived >= since.desktopReceived+n &&
			m.simSent >= since.simSent+n && m.simReceived >= since.simReceived+n {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("call %s: audio does not flow both ways: %v (connected %v), before %v", id, m, ok, since)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// dialEcho calls the echo number and returns the call's id once it is
// connected and audio flows both ways.
func dialEcho(t *testing.T, p *desktopProc, sim *sitesim.Sim) (string, media) {
	t.Helper()
	p.send(t, `{"cmd":"dial","number":"9000"}`)
	p.await(t, "dial reply", event("reply", "cmd", "dial", "ok", true))
	id, _ := p.await(t, "call connected", event("call", "state", "connected"))["id"].(string)
	return id, audioFlows(t, p, sim, id, media{}, 25)
}

// hangupEcho hangs the call up and checks that it ended at both sides.
func hangupEcho(t *testing.T, p *desktopProc, sim *sitesim.Sim, id string) {
	t.Helper()
	p.send(t, fmt.Sprintf(`{"cmd":"hangup","call":%q}`, id))
	p.await(t, "hangup reply", event("reply", "cmd", "hangup", "ok", true))
	// The call's lines and the reply come in any order.
	p.awaitWrote(t, "call ended", event("call", "id", id, "state", "ended", "end", "local hangup"))
	deadline := time.Now().Add(waitLine)
	for e := simEcho(t, sim); e.State != "ended" || e.Reason != "remote hangup"; e = simEcho(t, sim) {
		if time.Now().After(deadline) {
			t.Fatalf("the simulator's call did not end by our BYE: %+v", e)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// awaitWrote waits until a line, any so far, matches: for lines that may
// come before or after the one awaited last.
func (p *desktopProc) awaitWrote(t *testing.T, what string, match func(map[string]any) bool) {
	t.Helper()
	deadline := time.Now().Add(waitLine)
	for {
		p.mu.Lock()
		found := slices.ContainsFunc(p.lines, match)
		p.mu.Unlock()
		if found {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s on stdout within %v", what, waitLine)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// callFiles lists the saved calls in a state directory.
func callFiles(t *testing.T, stateDir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(stateDir, "calls", "*.call"))
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// BC-30 crash safety, as a process: a desktop killed (SIGKILL) during a
// call leaves the call saved (an owner-only file); started again on the
// same state directory it offers the call (a saved-calls line), restores
// it on restore-saved-calls (its peer learns the new SIP port by a
// target-refresh re-INVITE), audio flows both ways again, and the call
// hangs up cleanly. The call history outlives the restart.
func TestCrashRestoresCall(t *testing.T) {
	sim, cfgFile, pwFile := startSimFor(t, sitesim.DemoPassword)
	stateDir := t.TempDir()
	args := []string{"--headless", "--config", cfgFile, "--password-file", pwFile, "--state-dir", stateDir, "--log-level", "debug"}

	p := startDesktop(t, args...)
	p.await(t, "started line", event("started", "user", "agent1"))
	loggedIn(t, p, 1, "NotReady", "")
	id, before := dialEcho(t, p, sim)
	deadline := time.Now().Add(waitLine)
	for len(callFiles(t, stateDir)) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the connected call was not saved")
		}
		time.Sleep(10 * time.Millisecond)
	}
	fi, err := os.Stat(callFiles(t, stateDir)[0])
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("saved call mode %o, want 600", fi.Mode().Perm())
	}

	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	p.wait(t)
	killed := time.Now()

	p2 := startDesktop(t, args...)
	p2.await(t, "started line", event("started", "user", "agent1"))
	offer := p2.await(t, "saved calls offered", event("saved-calls"))
	saved, _ := offer["calls"].([]any)
	if len(saved) != 1 || saved[0].(map[string]any)["id"] != id {
		t.Fatalf("saved calls offered: %v, want call %s", offer, id)
	}
	loggedIn(t, p2, 1, "NotReady", "")
	asked := time.Now()
	p2.send(t, `{"cmd":"restore-saved-calls"}`)
	p2.await(t, "restore reply", event("reply", "cmd", "restore-saved-calls", "ok", true))
	restored := time.Since(asked)
	// The lines of the restore and its reply come in any order.
	p2.awaitWrote(t, "saved-calls line withdrawing the offer", event("saved-calls", "calls", "[]"))
	if st := p2.state(t); len(st["saved_calls"].([]any)) != 0 {
		t.Fatalf("saved calls still offered: %v", st["saved_calls"])
	}
	// The new process counts from the stored stream on; the simulator
	// hears the restored call and echoes it back.
	after := audioFlows(t, p2, sim, id, media{desktopSent: before.desktopSent, simSent: simEcho(t, sim).PacketsSent, simReceived: simEcho(t, sim).PacketsReceived}, 25)
	t.Logf("restore-saved-calls answered in %v; %v since the kill, audio again: %v", restored, time.Since(killed), after)

	hangupEcho(t, p2, sim, id)
	deadline = time.Now().Add(waitLine)
	for len(callFiles(t, stateDir)) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the ended call's file stays: %v", callFiles(t, stateDir))
		}
		time.Sleep(10 * time.Millisecond)
	}
	p2.send(t, `{"cmd":"quit"}`)
	p2.await(t, "quit reply", event("reply", "cmd", "quit", "ok", true))
	if code := p2.wait(t); code != 0 {
		t.Fatalf("exit code %d", code)
	}

	// The history outlives the run: a third start has the call in it.
	p3 := startDesktop(t, args...)
	p3.await(t, "started line", event("started", "user", "agent1"))
	p3.await(t, "logged in", event("phase", "phase", "logged-in"))
	history, _ := p3.state(t)["history"].([]any)
	if len(history) != 1 || history[0].(map[string]any)["id"] != id || history[0].(map[string]any)["end"] != "local hangup" {
		t.Fatalf("history after a restart: %v, want the call %s hung up", history, id)
	}
	p3.send(t, `{"cmd":"quit"}`)
	p3.wait(t)
}
