package core

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tandem-softphone/tandem/continuity"
	"github.com/tandem-softphone/tandem/sipua"
	"github.com/tandem-softphone/tandem/sitesim"
)

// simCall is the simulator's side of the call with a test number.
func simCall(t *testing.T, sim *sitesim.Sim, to string) sitesim.CallStatus {
	t.Helper()
	for _, c := range sim.Calls() {
		if c.To == to && c.State == "connected" {
			return c
		}
	}
	t.Fatalf("no connected call to %s at the simulator: %+v", to, sim.Calls())
	return sitesim.CallStatus{}
}

// callIn waits for the core's call in a state and returns it.
func callIn(t *testing.T, c *Core, what string, cond func(sipua.CallInfo) bool) sipua.CallInfo {
	t.Helper()
	var found sipua.CallInfo
	waitState(t, c, what, func(s State) bool {
		for _, ci := range s.Calls {
			if cond(ci) {
				found = ci
				return true
			}
		}
		return false
	})
	return found
}

// savedInfo reads the saved call of id, or fails.
func savedInfo(t *testing.T, c *Core, id string) sipua.CallInfo {
	t.Helper()
	buf, err := os.ReadFile(c.saved.callFile(id))
	if err != nil {
		t.Fatal(err)
	}
	info, err := sipua.BufferInfo(buf)
	if err != nil {
		t.Fatal(err)
	}
	return info
}

// BC-30 crash safety: a connected call is saved (0600) and saved again as
// it changes (hold); when the desktop dies without hanging up, the next
// start offers it (State.SavedCalls); restoring it continues the call in
// the new endpoint (another SIP port: a target-refresh re-INVITE) with
// audio both ways, and it ends cleanly. A damaged saved file is removed
// with a notice.
func TestSavedCallsRestore(t *testing.T) {
	sim := startSim(t, nil)
	dir := t.TempDir()
	c := startCore(t, sim, "agent1", func(o *Options) {
		o.StateDir = dir
		o.Endpoint.QualityInterval = 50 * time.Millisecond
	})
	login(t, c, 1)
	if err := c.Dial(t.Context(), "9000"); err != nil {
		t.Fatal(err)
	}
	ci := callIn(t, c, "call connected", func(ci sipua.CallInfo) bool { return ci.State == sipua.CallConnected })
	eventually(t, "the call saved", func() bool { _, err := os.Stat(c.saved.callFile(ci.ID)); return err == nil })
	fi, err := os.Stat(c.saved.callFile(ci.ID))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("saved call mode %o, want 600", fi.Mode().Perm())
	}
	if fi, err := os.Stat(filepath.Dir(c.saved.callFile(ci.ID))); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("saved calls directory: %v, %v", fi.Mode(), err)
	}
	// The quality reports keep the saved RTP position fresh, with no
	// change of the call.
	first, err := os.ReadFile(c.saved.callFile(ci.ID))
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the saved call refreshed", func() bool {
		again, err := os.ReadFile(c.saved.callFile(ci.ID))
		return err == nil && string(again) != string(first)
	})
	if err := c.Hold(ci.ID); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the held call saved", func() bool { return savedInfo(t, c, ci.ID).LocalHold })
	if err := c.Resume(ci.ID); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the resumed call saved", func() bool { return !savedInfo(t, c, ci.ID).LocalHold })

	// The desktop dies: the call leaves the endpoint without a BYE, and
	// its file is what a crash leaves behind (Close removes the files of
	// calls it hung up).
	c.saved.flush()
	buf, err := os.ReadFile(c.saved.callFile(ci.ID))
	if err != nil {
		t.Fatal(err)
	}
	call, ok := c.ep.Call(ci.ID)
	if !ok {
		t.Fatal("no call in the endpoint")
	}
	if _, err := call.Store(nil); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if _, err := os.Stat(c.saved.callFile(ci.ID)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the saved call outlived Close: %v", err)
	}
	if err := sipua.WriteBufferFile(c.saved.callFile(ci.ID), buf); err != nil {
		t.Fatal(err)
	}
	damaged := filepath.Join(dir, callsDir, "damaged"+callExt)
	if err := os.WriteFile(damaged, []byte("TNDMCALL garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	echo := simCall(t, sim, "9000")

	c2 := startCore(t, sim, "agent1", func(o *Options) { o.StateDir = dir })
	st := c2.Snapshot()
	if len(st.SavedCalls) != 1 || st.SavedCalls[0].ID != ci.ID || !strings.Contains(st.SavedCalls[0].Peer, "9000") ||
		st.SavedCalls[0].Site != 1 || !st.SavedCalls[0].Since.Equal(ci.Answered) {
		t.Fatalf("saved calls at start: %+v (the call: %+v)", st.SavedCalls, ci)
	}
	if !hasNotice(st, continuity.Warning, "could not be read") {
		t.Fatal("no notice of the damaged saved call")
	}
	if _, err := os.Stat(damaged); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the damaged saved call is still there: %v", err)
	}
	if err := c2.RestoreSavedCalls(); !errors.Is(err, ErrNoEndpoint) {
		t.Fatalf("restore before login: %v", err)
	}
	login(t, c2, 1)
	if err := c2.RestoreSavedCalls(); err != nil {
		t.Fatalf("RestoreSavedCalls: %v", err)
	}
	if len(c2.Snapshot().SavedCalls) != 0 {
		t.Fatal("still offered after the restore")
	}
	if err := c2.RestoreSavedCalls(); !errors.Is(err, ErrNoSavedCalls) {
		t.Fatalf("second restore: %v", err)
	}
	got := callIn(t, c2, "the call restored", func(x sipua.CallInfo) bool { return x.ID == ci.ID && x.State == sipua.CallConnected })
	callIn(t, c2, "audio at the restored call", func(x sipua.CallInfo) bool {
		return x.ID == ci.ID && x.Media.Stats.PacketsReceived > got.Media.Stats.PacketsReceived+25
	})
	eventually(t, "audio at the simulator from the restored call", func() bool {
		return simCall(t, sim, "9000").PacketsReceived > echo.PacketsReceived+25
	})
	eventually(t, "the restored call saved", func() bool {
		_, err := os.Stat(c2.saved.callFile(ci.ID))
		return err == nil
	})

	if err := c2.Hangup(ci.ID); err != nil {
		t.Fatal(err)
	}
	waitState(t, c2, "the call ended", func(s State) bool { return len(s.Calls) == 0 })
	eventually(t, "the simulator's call ended by our BYE", func() bool {
		for _, sc := range sim.Calls() {
			if sc.ID == echo.ID {
				return sc.State == "ended" && sc.Reason == "remote hangup"
			}
		}
		return false
	})
	c2.saved.flush()
	if _, err := os.Stat(c2.saved.callFile(ci.ID)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the ended call's file stays: %v", err)
	}
	hist, err := loadHistory(filepath.Join(dir, historyFile))
	if err != nil || len(hist) == 0 || hist[len(hist)-1].ID != ci.ID || hist[len(hist)-1].EndReason != sipua.EndLocalHangup {
		t.Fatalf("history file: %+v, %v", hist, err)
	}
}

// DiscardSavedCalls forgets the saved calls and their files.
func TestSavedCallsDiscard(t *testing.T) {
	sim := startSim(t, nil)
	dir := t.TempDir()
	ci := savedEchoCall(t, sim, dir)

	c2 := startCore(t, sim, "agent1", func(o *Options) { o.StateDir = dir })
	if n := len(c2.Snapshot().SavedCalls); n != 1 {
		t.Fatalf("%d saved calls", n)
	}
	if err := c2.DiscardSavedCalls(); err != nil {
		t.Fatal(err)
	}
	if n := len(c2.Snapshot().SavedCalls); n != 0 {
		t.Fatalf("%d saved calls after discard", n)
	}
	if _, err := os.Stat(c2.saved.callFile(ci.ID)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the discarded call's file stays: %v", err)
	}
	if err := c2.DiscardSavedCalls(); !errors.Is(err, ErrNoSavedCalls) {
		t.Fatalf("second discard: %v", err)
	}
}

// A saved call that its peer ended meanwhile: the restore's re-INVITE
// gets 481, the call ends at once, the restore says so and the file goes.
func TestSavedCallPeerGone(t *testing.T) {
	sim := startSim(t, nil)
	dir := t.TempDir()
	ci := savedEchoCall(t, sim, dir)

	c2 := startCore(t, sim, "agent1", func(o *Options) { o.StateDir = dir })
	login(t, c2, 1)
	if err := c2.RestoreSavedCalls(); err == nil || !strings.Contains(err.Error(), "ended by its peer") {
		t.Fatalf("restore of a call its peer ended: %v", err)
	}
	st := waitState(t, c2, "no call", func(s State) bool { return len(s.Calls) == 0 && len(s.SavedCalls) == 0 })
	if !hasNotice(st, continuity.Warning, "had ended at its peer") {
		t.Fatal("no notice")
	}
	eventually(t, "the saved call removed", func() bool {
		_, err := os.Stat(c2.saved.callFile(ci.ID))
		return errors.Is(err, os.ErrNotExist)
	})
}

// savedEchoCall leaves in dir the saved file of a call to the echo number
// as it was while connected, and hangs the call up (its peer forgets it).
func savedEchoCall(t *testing.T, sim *sitesim.Sim, dir string) sipua.CallInfo {
	t.Helper()
	c := startCore(t, sim, "agent1", func(o *Options) { o.StateDir = dir })
	login(t, c, 1)
	if err := c.Dial(t.Context(), "9000"); err != nil {
		t.Fatal(err)
	}
	ci := callIn(t, c, "call connected", func(ci sipua.CallInfo) bool { return ci.State == sipua.CallConnected })
	eventually(t, "the call saved", func() bool { _, err := os.Stat(c.saved.callFile(ci.ID)); return err == nil })
	c.saved.flush()
	buf, err := os.ReadFile(c.saved.callFile(ci.ID))
	if err != nil {
		t.Fatal(err)
	}
	c.Close() // hangs the call up and removes its file
	if err := sipua.WriteBufferFile(c.saved.callFile(ci.ID), buf); err != nil {
		t.Fatal(err)
	}
	return ci
}

// eventually polls cond for up to longWait.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(longWait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, longWait)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// BC-30 for an incoming call (a customer of the simulator): restored in a
// new endpoint, its audio flows again both ways, and the customer's
// hang-up reaches the new endpoint.
func TestSavedIncomingCallRestore(t *testing.T) {
	sim := startSim(t, nil)
	dir := t.TempDir()
	c := startCore(t, sim, "agent1", func(o *Options) { o.StateDir = dir })
	login(t, c, 1)
	ctl := sitesim.NewClient(sim.ControlAddr())
	simID, err := ctl.Call(t.Context(), sitesim.CallRequest{To: "5001"})
	if err != nil {
		t.Fatal(err)
	}
	ring := callIn(t, c, "call ringing", func(ci sipua.CallInfo) bool { return ci.State == sipua.CallRinging })
	if err := c.Answer(ring.ID); err != nil {
		t.Fatal(err)
	}
	callIn(t, c, "call connected", func(ci sipua.CallInfo) bool { return ci.State == sipua.CallConnected })
	eventually(t, "the call saved", func() bool { _, err := os.Stat(c.saved.callFile(ring.ID)); return err == nil })
	c.saved.flush()
	buf, err := os.ReadFile(c.saved.callFile(ring.ID))
	if err != nil {
		t.Fatal(err)
	}
	call, _ := c.ep.Call(ring.ID)
	if _, err := call.Store(nil); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if err := sipua.WriteBufferFile(c.saved.callFile(ring.ID), buf); err != nil {
		t.Fatal(err)
	}
	customer := func() sitesim.CallStatus {
		for _, sc := range sim.Calls() {
			if sc.ID == simID {
				return sc
			}
		}
		t.Fatalf("no call %s at the simulator", simID)
		return sitesim.CallStatus{}
	}
	heard := customer().PacketsReceived

	c2 := startCore(t, sim, "agent1", func(o *Options) { o.StateDir = dir })
	login(t, c2, 1)
	if err := c2.RestoreSavedCalls(); err != nil {
		t.Fatalf("RestoreSavedCalls: %v", err)
	}
	callIn(t, c2, "audio at the restored call", func(x sipua.CallInfo) bool {
		return x.ID == ring.ID && x.State == sipua.CallConnected && x.Media.Stats.PacketsReceived > 25
	})
	eventually(t, "the customer hears the restored call", func() bool { return customer().PacketsReceived > heard+25 })
	// The customer took the restore's target refresh: its BYE reaches the
	// new endpoint.
	if err := sim.Hangup(simID); err != nil {
		t.Fatal(err)
	}
	waitState(t, c2, "the call ended by the customer", func(s State) bool {
		return len(s.Calls) == 0 && len(s.CallHistory) > 0 &&
			s.CallHistory[len(s.CallHistory)-1].ID == ring.ID && s.CallHistory[len(s.CallHistory)-1].EndReason == sipua.EndRemoteHangup
	})
}
