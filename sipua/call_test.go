package sipua

import (
	"strings"
	"testing"
	"time"

	"github.com/tandem-softphone/tandem/media/sdp"
)

// A call from one endpoint to another, answered and hung up by the
// callee: the states both sides report, the audio that arrives each way
// (the recording correlates with what the other side's microphone
// played), and a call the other way round.
func TestCallBetweenEndpoints(t *testing.T) {
	s := startSite(t, "site1.test", nil)
	a := newPhone(t, s, "1001", phoneOptions{said: chirp(300, 3000, 1500*time.Millisecond)})
	b := newPhone(t, s, "2001", phoneOptions{said: chirp(3000, 300, 1500*time.Millisecond)})

	ca := a.dial(b.uri())
	cb := b.incoming()
	in := cb.Info()
	if in.Direction != Incoming || !strings.Contains(in.PeerURI, "1001") || in.Site != "site1" {
		t.Errorf("incoming call info %+v", in)
	}
	waitCallState(t, ca, CallEarly) // 180 Ringing came back
	if err := cb.Answer(); err != nil {
		t.Fatal(err)
	}
	waitCallState(t, ca, CallConnected)
	info := waitCallState(t, cb, CallConnected)
	if !info.HasMedia || info.Media.Direction != sdp.SendRecv || !strings.HasPrefix(info.Media.Codec, "PCMU") {
		t.Errorf("callee media %+v", info.Media)
	}
	time.Sleep(2200 * time.Millisecond) // the 1.5 s chirps go through
	for _, c := range []*Call{ca, cb} {
		// 110 are sent; a loaded machine delays some beyond the test.
		if n := packetsIn(c); n < 50 {
			t.Errorf("call %s received %d RTP packets in 2.2 s", c.ID(), n)
		}
	}
	if err := cb.Hangup(); err != nil {
		t.Fatal(err)
	}
	ia := waitEnded(t, ca, EndRemoteHangup)
	waitEnded(t, cb, EndLocalHangup)
	if ia.Answered.IsZero() || ia.Ended.Before(ia.Answered) {
		t.Errorf("timestamps: answered %v ended %v", ia.Answered, ia.Ended)
	}
	waitReported(t, "caller states", func() []CallState { return a.states(ca.ID()) }, []CallState{CallDialing, CallEarly, CallConnected, CallEnded}, 5*time.Second)
	waitReported(t, "callee states", func() []CallState { return b.states(cb.ID()) }, []CallState{CallRinging, CallConnected, CallEnding, CallEnded}, 5*time.Second)
	if r := correlation(b.said, a.heard()); r < 0.8 {
		t.Errorf("caller heard the callee with correlation %.2f", r)
	}
	if r := correlation(a.said, b.heard()); r < 0.8 {
		t.Errorf("callee heard the caller with correlation %.2f", r)
	}
	if _, ok := a.ep.Call(ca.ID()); ok || len(a.ep.Calls()) != 0 {
		t.Errorf("ended call still listed")
	}

	// The other way round; the caller hangs up.
	cb2 := b.dial(a.uri())
	ca2 := a.incoming()
	if err := ca2.Answer(); err != nil {
		t.Fatal(err)
	}
	waitCallState(t, cb2, CallConnected)
	eventually(t, "media flows", func() bool { return packetsIn(ca2) > 10 && packetsIn(cb2) > 10 })
	if err := cb2.Hangup(); err != nil {
		t.Fatal(err)
	}
	waitEnded(t, ca2, EndRemoteHangup)
	waitEnded(t, cb2, EndLocalHangup)
}

// The caller gives up while the callee rings (CANCEL); a callee rejects
// with 486 and 603, each a clear reason at the caller.
func TestCallCancelAndReject(t *testing.T) {
	s := startSite(t, "site1.test", nil)
	a := newPhone(t, s, "1001", phoneOptions{})
	b := newPhone(t, s, "2001", phoneOptions{})

	ca := a.dial(b.uri())
	cb := b.incoming()
	waitCallState(t, ca, CallEarly)
	if err := ca.Hangup(); err != nil {
		t.Fatal(err)
	}
	if i := waitEnded(t, ca, EndCancelled); i.Code != 487 {
		t.Errorf("caller code %d, want 487", i.Code)
	}
	waitEnded(t, cb, EndCancelled)
	if err := cb.Answer(); err != ErrCallState {
		t.Errorf("Answer after CANCEL: %v", err)
	}

	for _, tc := range []struct {
		code int
		want EndReason
	}{{486, EndBusy}, {603, EndDeclined}, {404, EndNotFound}, {480, EndUnavailable}, {500, EndFailed}} {
		ca := a.dial(b.uri())
		cb := b.incoming()
		if err := cb.Reject(tc.code); err != nil {
			t.Fatal(err)
		}
		if i := waitEnded(t, ca, tc.want); i.Code != tc.code {
			t.Errorf("reject %d: caller code %d", tc.code, i.Code)
		}
		if i := waitEnded(t, cb, EndRejected); i.Code != tc.code {
			t.Errorf("reject %d: callee code %d", tc.code, i.Code)
		}
	}
}

// Hold and resume change the SDP direction both sides see, and the media
// flow: the held side stops sending while held and sends again after.
func TestCallHoldResume(t *testing.T) {
	s := startSite(t, "site1.test", nil)
	a := newPhone(t, s, "1001", phoneOptions{})
	b := newPhone(t, s, "2001", phoneOptions{})
	ca, cb := connect(t, a, b)

	if err := ca.Hold(); err != nil {
		t.Fatal(err)
	}
	ia := ca.Info()
	if ia.State != CallHeld || !ia.LocalHold || ia.Media.Direction != sdp.SendOnly {
		t.Errorf("holder: %v local hold %v direction %v", ia.State, ia.LocalHold, ia.Media.Direction)
	}
	ib := waitCall(t, cb, "held by the peer", func(i CallInfo) bool { return i.RemoteHold })
	if ib.State != CallHeld || ib.Media.Direction != sdp.RecvOnly {
		t.Errorf("held: %v direction %v", ib.State, ib.Media.Direction)
	}
	// The held side sends nothing: what the holder receives stops.
	time.Sleep(100 * time.Millisecond)
	before := packetsIn(ca)
	heldBefore := packetsIn(cb)
	time.Sleep(300 * time.Millisecond)
	if got := packetsIn(ca); got != before {
		t.Errorf("holder received %d packets while holding", got-before)
	}
	if got := packetsIn(cb); got <= heldBefore {
		t.Errorf("held side received nothing from the holder (sendonly)")
	}
	if err := ca.Hold(); err != nil {
		t.Errorf("second Hold: %v", err)
	}

	if err := ca.Resume(); err != nil {
		t.Fatal(err)
	}
	ia = ca.Info()
	if ia.State != CallConnected || ia.LocalHold || ia.Media.Direction != sdp.SendRecv {
		t.Errorf("after resume: %v local hold %v direction %v", ia.State, ia.LocalHold, ia.Media.Direction)
	}
	waitCall(t, cb, "resumed", func(i CallInfo) bool { return i.State == CallConnected && !i.RemoteHold })
	before = packetsIn(ca)
	eventually(t, "media back after resume", func() bool { return packetsIn(ca) > before+5 })

	// The peer holds the other way.
	if err := cb.Hold(); err != nil {
		t.Fatal(err)
	}
	waitCall(t, ca, "held by the peer", func(i CallInfo) bool { return i.RemoteHold && i.State == CallHeld })
	if err := cb.Resume(); err != nil {
		t.Fatal(err)
	}
	waitCall(t, ca, "resumed by the peer", func(i CallInfo) bool { return !i.RemoteHold && i.State == CallConnected })

	// Mute keeps media flowing.
	if err := ca.Mute(true); err != nil {
		t.Fatal(err)
	}
	before = packetsIn(cb)
	eventually(t, "media flows while muted", func() bool { return packetsIn(cb) > before+5 })
	if !ca.Info().Muted {
		t.Error("not reported muted")
	}
	ca.Hangup()
	waitEnded(t, cb, EndRemoteHangup)
	if err := ca.Hold(); err != ErrCallState {
		t.Errorf("Hold after the end: %v", err)
	}
}

// DTMF by RFC 4733 both ways, and by SIP INFO.
func TestCallDTMF(t *testing.T) {
	s := startSite(t, "site1.test", nil)
	a := newPhone(t, s, "1001", phoneOptions{edit: func(o *Options) { o.DTMFDuration = 60 * time.Millisecond }})
	b := newPhone(t, s, "2001", phoneOptions{edit: func(o *Options) { o.DTMFDuration = 60 * time.Millisecond }})
	ca, cb := connect(t, a, b)

	if err := ca.SendDTMF("159#"); err != nil {
		t.Fatal(err)
	}
	if err := cb.SendDTMF("*0D"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "digits arrive", func() bool { return b.digits() == "159#" && a.digits() == "*0D" })
	if err := ca.SendDTMF("x"); err == nil {
		t.Error("SendDTMF accepted x")
	}

	// INFO with application/dtmf-relay, as some gateways send keys.
	client := rawClient(t)
	for _, tc := range []struct {
		ct, body string
		want     int
	}{
		{"application/dtmf-relay", "Signal=7\r\nDuration=160\r\n", 200},
		{"application/dtmf", "11", 200},
		{"application/dtmf-relay", "Signal=X\r\n", 400},
		{"text/plain", "hello", 415},
	} {
		res := sendInDialog(t, client, cb, "INFO", tc.ct, []byte(tc.body))
		if res.StatusCode != tc.want {
			t.Errorf("INFO %s %q: %s, want %d", tc.ct, tc.body, res.StartLine(), tc.want)
		}
	}
	eventually(t, "INFO digits", func() bool { return b.digits() == "159#7#" })
	b.mu.Lock()
	last := b.dtmf[len(b.dtmf)-2]
	b.mu.Unlock()
	if last.Via != "info" || last.Duration != 160*time.Millisecond {
		t.Errorf("INFO digit event %+v", last)
	}
}
