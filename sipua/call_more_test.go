package sipua

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/tandem-softphone/tandem/media/sdp"
)

// A second call rings while in a call (call waiting): answering it puts
// the first on hold; rejecting it leaves the first alone.
func TestCallWaiting(t *testing.T) {
	s := startSite(t, "site1.test", nil)
	a := newPhone(t, s, "1001", phoneOptions{said: chirp(300, 3000, time.Second)})
	b := newPhone(t, s, "2001", phoneOptions{})
	c := newPhone(t, s, "3001", phoneOptions{})
	ab, ba := connect(t, a, b)

	// Rejected: the first call goes on untouched.
	ca := c.dial(a.uri())
	ac := a.incoming()
	if i := ab.Info(); i.State != CallConnected {
		t.Fatalf("first call %v while the second rings", i.State)
	}
	if err := ac.Reject(0); err != nil {
		t.Fatal(err)
	}
	waitEnded(t, ca, EndBusy)
	if i := ab.Info(); i.State != CallConnected || i.LocalHold {
		t.Fatalf("first call after rejecting the second: %v hold %v", i.State, i.LocalHold)
	}

	// Answered: the first goes on hold, the second talks.
	ca = c.dial(a.uri())
	ac = a.incoming()
	if err := ac.Answer(); err != nil {
		t.Fatal(err)
	}
	if i := ab.Info(); i.State != CallHeld || !i.LocalHold {
		t.Errorf("first call after answering the second: %v hold %v", i.State, i.LocalHold)
	}
	waitCall(t, ba, "held", func(i CallInfo) bool { return i.RemoteHold })
	waitCallState(t, ca, CallConnected)
	if got := a.ep.talking(); got != ac {
		t.Errorf("the audio devices are with %v, want the answered call", got)
	}
	before := packetsIn(ca)
	eventually(t, "second call media", func() bool { return packetsIn(ca) > before+5 })

	// Back to the first: the second is held in turn.
	if err := ab.Resume(); err != nil {
		t.Fatal(err)
	}
	if i := ac.Info(); !i.LocalHold {
		t.Errorf("second call not held on resuming the first: %+v", i.State)
	}
	waitCall(t, ba, "resumed", func(i CallInfo) bool { return !i.RemoteHold })
	ca.Hangup()
	waitEnded(t, ac, EndRemoteHangup)
	if i := ab.Info(); i.State != CallConnected {
		t.Errorf("first call after the second ended: %v", i.State)
	}
}

// Blind transfer between three endpoints: A transfers B to C; B calls C,
// C answers, the NOTIFYs tell A, and A's call ends as transferred.
func TestCallBlindTransfer(t *testing.T) {
	s := startSite(t, "site1.test", nil)
	a := newPhone(t, s, "1001", phoneOptions{})
	b := newPhone(t, s, "2001", phoneOptions{})
	c := newPhone(t, s, "3001", phoneOptions{})
	ab, ba := connect(t, a, b)

	if err := ab.Transfer(c.uri()); err != nil {
		t.Fatal(err)
	}
	if i := ab.Info(); i.Transfer != TransferPending && i.Transfer != TransferSucceeded {
		t.Errorf("transfer state %v", i.Transfer)
	}
	cb := c.incoming()
	if info := cb.Info(); !strings.Contains(info.PeerURI, "2001") {
		t.Errorf("C is called by %s, want B", info.PeerURI)
	}
	if err := cb.Answer(); err != nil {
		t.Fatal(err)
	}
	i := waitEnded(t, ab, EndTransferred)
	if i.Transfer != TransferSucceeded || i.TransferCode != 200 {
		t.Errorf("transferor: transfer %v code %d", i.Transfer, i.TransferCode)
	}
	waitEnded(t, ba, EndRemoteHangup)
	bc := b.newCall()
	bi := waitCallState(t, bc, CallConnected)
	if bi.TransferredFrom != ba.ID() || !strings.Contains(bi.ReferredBy, "1001") {
		t.Errorf("B's new call: transferred from %q referred by %q", bi.TransferredFrom, bi.ReferredBy)
	}
	eventually(t, "B and C talk", func() bool { return packetsIn(bc) > 5 && packetsIn(cb) > 5 })

	// A transfer the transferee cannot complete: C rejects, A keeps B.
	ab2, _ := connect(t, a, b)
	if err := ab2.Transfer(c.uri()); err != nil {
		t.Fatal(err)
	}
	if err := c.incoming().Reject(486); err != nil {
		t.Fatal(err)
	}
	i = waitCall(t, ab2, "transfer failed", func(i CallInfo) bool { return i.Transfer == TransferFailed })
	if i.TransferCode != 486 || i.State != CallConnected {
		t.Errorf("after a failed transfer: %v code %d", i.State, i.TransferCode)
	}
}

// Attended transfer between three endpoints: A talks to B, holds B, calls
// C, then joins B and C (REFER with Replaces): C takes B's call in place
// of A's and both of A's calls end as transferred.
func TestCallAttendedTransfer(t *testing.T) {
	s := startSite(t, "site1.test", nil)
	a := newPhone(t, s, "1001", phoneOptions{})
	b := newPhone(t, s, "2001", phoneOptions{})
	c := newPhone(t, s, "3001", phoneOptions{})
	ab, ba := connect(t, a, b)
	if err := ab.Hold(); err != nil {
		t.Fatal(err)
	}
	ac, ca := connect(t, a, c)

	if err := ab.AttendedTransfer(ac); err != nil {
		t.Fatal(err)
	}
	waitEnded(t, ab, EndTransferred)
	waitEnded(t, ac, EndTransferred)
	waitEnded(t, ca, EndReplaced)
	waitEnded(t, ba, EndRemoteHangup)
	bc := b.newCall()
	cb := c.newCall()
	waitCallState(t, bc, CallConnected)
	ci := waitCallState(t, cb, CallConnected)
	if ci.Replaced != ca.ID() || !strings.Contains(ci.PeerURI, "2001") {
		t.Errorf("C's new call replaced %q, peer %s", ci.Replaced, ci.PeerURI)
	}
	eventually(t, "C's replacing call reported", func() bool { return len(c.states(cb.ID())) > 0 })
	if got := c.states(cb.ID()); got[0] != CallConnected {
		t.Errorf("replacing call states %v: want it connected at once, without ringing", got)
	}
	eventually(t, "B and C talk", func() bool { return packetsIn(bc) > 5 && packetsIn(cb) > 5 })
	if err := ab.AttendedTransfer(ab); err == nil {
		t.Error("attended transfer to itself accepted")
	}
}

// Offers the endpoint cannot take are
// answered 488 with a Warning (malformed SDP, no common codec), a body
// that is not SDP 415, and a re-INVITE with such an offer leaves the call
// as it was.
func TestCallRefusedOffers(t *testing.T) {
	s := startSite(t, "site1.test", nil)
	a := newPhone(t, s, "1001", phoneOptions{})
	b := newPhone(t, s, "2001", phoneOptions{})
	client := rawClient(t)
	g729 := "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 18\r\na=rtpmap:18 G729/8000\r\n"
	for _, tc := range []struct {
		name, ct, body string
		want           int
		warn           string
	}{
		{"malformed", "application/sdp", "v=0\r\nthis is not SDP\r\n", 488, "399"},
		{"no common codec", "application/sdp", g729, 488, "305"},
		{"no audio", "application/sdp", strings.Replace(g729, "m=audio", "m=video", 1), 488, "304"},
		{"not SDP", "text/plain", "hello", 415, ""},
	} {
		res := rawInvite(t, client, b, tc.ct, []byte(tc.body))
		if res.StatusCode != tc.want {
			t.Errorf("%s: %s, want %d", tc.name, res.StartLine(), tc.want)
			continue
		}
		if w := hdr(res, "Warning"); !strings.HasPrefix(w, tc.warn) {
			t.Errorf("%s: Warning %q, want code %s", tc.name, w, tc.warn)
		}
	}
	if n := len(b.ep.Calls()); n != 0 {
		t.Errorf("%d calls after refused offers", n)
	}

	ab, ba := connect(t, a, b)
	res := sendInDialog(t, client, ba, "INVITE", "application/sdp", []byte(g729))
	if res.StatusCode != 488 {
		t.Errorf("re-INVITE with G.729 only: %s", res.StartLine())
	}
	if i := ba.Info(); i.State != CallConnected || i.Media.Direction != sdp.SendRecv {
		t.Errorf("call after a refused re-INVITE: %v %v", i.State, i.Media.Direction)
	}
	before := packetsIn(ab)
	eventually(t, "media goes on", func() bool { return packetsIn(ab) > before+5 })

	// The peer holds with a=inactive: neither side sends.
	inactive := strings.NewReplacer("m=audio 4000 RTP/AVP 18", "m=audio 4000 RTP/AVP 0", "a=rtpmap:18 G729/8000", "a=inactive").Replace(g729)
	if res := sendInDialog(t, client, ba, "INVITE", "application/sdp", []byte(inactive)); res.StatusCode != 200 || !strings.Contains(string(res.Body()), "a=inactive") {
		t.Errorf("re-INVITE with a=inactive: %s\n%s", res.StartLine(), res.Body())
	}
	if i := ba.Info(); !i.RemoteHold || i.State != CallHeld || i.Media.Direction != sdp.Inactive {
		t.Errorf("held with a=inactive: %v remote hold %v direction %v", i.State, i.RemoteHold, i.Media.Direction)
	}
}

// An INVITE without SDP (late offer): our offer goes in the 2xx and the
// caller's answer comes in the ACK, after which media flows.
func TestCallLateOffer(t *testing.T) {
	s := startSite(t, "site1.test", nil)
	b := newPhone(t, s, "2001", phoneOptions{})
	client := rawClient(t)

	// The caller's media: an RTP socket we only count packets on.
	peer := newRTPSink(t)
	req := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", User: "2001", Host: "127.0.0.1"})
	req.SetDestination(b.ep.Addr(TransportUDP).String())
	req.AppendHeader(&sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "raw", Host: "127.0.0.1", Port: 5999}})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	tx, err := client.TransactionRequest(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Terminate()
	call := b.incoming()
	if err := call.Answer(); err != nil {
		t.Fatal(err)
	}
	var ok *sip.Response
	for ok == nil {
		select {
		case res := <-tx.Responses():
			if res.StatusCode == 200 {
				ok = res
			}
		case <-ctx.Done():
			t.Fatal("no 200 OK")
		}
	}
	local := sdp.Local{Address: peer.addr.Addr(), Port: int(peer.addr.Port())}
	answer, _, err := sdp.Answer(&local, ok.Body())
	if err != nil {
		t.Fatalf("our 2xx's offer: %v\n%s", err, ok.Body())
	}
	if call.Info().HasMedia {
		t.Error("media started before the answer")
	}
	ack := sip.NewRequest(sip.ACK, ok.Contact().Address)
	ack.SetDestination(b.ep.Addr(TransportUDP).String())
	for _, name := range []string{"From", "To", "Call-ID"} {
		ack.AppendHeader(sip.HeaderClone(ok.GetHeader(name)))
	}
	ack.AppendHeader(&sip.CSeqHeader{SeqNo: ok.CSeq().SeqNo, MethodName: sip.ACK})
	ack.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	ack.SetBody(answer)
	if err := client.WriteRequest(ack); err != nil {
		t.Fatal(err)
	}
	waitCall(t, call, "media after the ACK", func(i CallInfo) bool { return i.HasMedia })
	eventually(t, "RTP reaches the caller", func() bool { return peer.count() > 5 })
}

// Close hangs up the calls: the peer sees the end.
func TestCloseHangsUpCalls(t *testing.T) {
	s := startSite(t, "site1.test", nil)
	a := newPhone(t, s, "1001", phoneOptions{})
	b := newPhone(t, s, "2001", phoneOptions{})
	ab, ba := connect(t, a, b)
	c := b.dial(a.uri())
	ringing := a.incoming()
	if err := a.ep.Close(); err != nil {
		t.Fatal(err)
	}
	waitEnded(t, ab, EndLocalHangup)
	waitEnded(t, ba, EndRemoteHangup)
	if i := waitEnded(t, c, EndUnavailable); i.Code != 480 {
		t.Errorf("call ringing at close: %d", i.Code)
	}
	waitEnded(t, ringing, EndRejected)
	if _, err := a.ep.Dial(b.uri(), DialOptions{}); err != ErrNotStarted {
		t.Errorf("Dial after Close: %v", err)
	}
}

// Requests within calls that the endpoint must refuse, and the call goes
// on: Replaces of no call, REFER without or with a broken Refer-To,
// NOTIFY of an unknown event package, a request whose CSeq does not rise,
// and requests for a dialog that does not exist.
func TestInDialogRefusals(t *testing.T) {
	s := startSite(t, "site1.test", nil)
	a := newPhone(t, s, "1001", phoneOptions{})
	b := newPhone(t, s, "2001", phoneOptions{})
	client := rawClient(t)
	offer := []byte("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n")
	if res := rawInvite(t, client, b, "application/sdp", offer, sip.NewHeader("Replaces", "nocall@x;to-tag=1;from-tag=2")); res.StatusCode != 481 {
		t.Errorf("Replaces of no call: %s", res.StartLine())
	}
	if res := rawInvite(t, client, b, "application/sdp", offer, sip.NewHeader("Replaces", "broken")); res.StatusCode != 400 {
		t.Errorf("broken Replaces: %s", res.StartLine())
	}

	_, ba := connect(t, a, b)
	for _, tc := range []struct {
		method string
		extra  []sip.Header
		want   int
	}{
		{"REFER", nil, 400},
		{"REFER", []sip.Header{sip.NewHeader("Refer-To", "<tel:+15550100>")}, 400},
		{"NOTIFY", []sip.Header{sip.NewHeader("Event", "presence")}, 489},
		{"NOTIFY", []sip.Header{sip.NewHeader("Event", "refer")}, 400}, // no sipfrag
	} {
		if res := sendInDialog(t, client, ba, tc.method, "", nil, tc.extra...); res.StatusCode != tc.want {
			t.Errorf("%s %v: %s, want %d", tc.method, tc.extra, res.StartLine(), tc.want)
		}
	}
	// A CSeq that does not rise.
	ba.mu.Lock()
	last := ba.dlg.RemoteCSeq
	ba.mu.Unlock()
	if res := sendInDialogCSeq(t, client, ba, "BYE", last, "", nil); res.StatusCode != 500 {
		t.Errorf("BYE with an old CSeq: %s", res.StartLine())
	}
	if i := ba.Info(); i.State != CallConnected {
		t.Errorf("call after the refusals: %v", i.State)
	}

	// No such dialog.
	ba.mu.Lock()
	ba.dlg.LocalTag = "unknown"
	ba.mu.Unlock()
	for _, m := range []string{"BYE", "INFO", "NOTIFY", "REFER", "INVITE"} {
		if res := sendInDialog(t, client, ba, m, "", nil); res.StatusCode != 481 {
			t.Errorf("%s for no dialog: %s", m, res.StartLine())
		}
	}
}

// SRTP (SDES) when the account asks for it: two such endpoints talk
// encrypted; a plain endpoint takes an SRTP offer; an SRTP endpoint
// refuses a plain offer (488).
func TestCallSRTP(t *testing.T) {
	s := startSite(t, "site1.test", nil)
	secure := func(user string) []Account {
		a := s.account("site1", TransportUDP, user)
		a.DirectCalls, a.SRTP = true, true
		return []Account{a}
	}
	a := newPhone(t, s, "1001", phoneOptions{accts: secure("1001"), said: chirp(300, 3000, time.Second)})
	b := newPhone(t, s, "2001", phoneOptions{accts: secure("2001"), said: chirp(3000, 300, time.Second)})
	c := newPhone(t, s, "3001", phoneOptions{})

	ab, ba := connect(t, a, b)
	time.Sleep(1300 * time.Millisecond)
	for _, call := range []*Call{ab, ba} {
		if i := call.Info(); !i.Media.Secure || i.Media.Stats.AuthFailures != 0 || i.Media.Stats.PacketsReceived < 40 {
			t.Errorf("call %s: secure %v, %d packets, %d authentication failures", call.ID(), i.Media.Secure,
				i.Media.Stats.PacketsReceived, i.Media.Stats.AuthFailures)
		}
	}
	ab.Hangup()
	waitEnded(t, ba, EndRemoteHangup)
	if r := correlation(a.said, b.heard()); r < 0.8 {
		t.Errorf("audio over SRTP: correlation %.2f", r)
	}

	ac, ca := connect(t, a, c)
	if !ca.Info().Media.Secure || !ac.Info().Media.Secure {
		t.Errorf("a plain endpoint answering an SRTP offer: not secure")
	}
	ac.Hangup()
	waitEnded(t, ca, EndRemoteHangup)

	if i := waitEnded(t, c.dial(a.uri()), EndMediaRefused); i.Code != 488 {
		t.Errorf("plain offer to an SRTP endpoint: %d %q", i.Code, i.Reason)
	}
}

// Early media: the callee answers 183 with SDP; our media flows to it
// before the 200, and the call reports it. The media alarms and quality
// reports come as MediaEvents (the callee here never sends RTP).
func TestCallEarlyMediaAndMediaEvents(t *testing.T) {
	s := startSite(t, "site1.test", nil)
	a := newPhone(t, s, "1001", phoneOptions{edit: func(o *Options) {
		o.NoRTPTimeout = 300 * time.Millisecond
		o.QualityInterval = 150 * time.Millisecond
	}})
	sink := newRTPSink(t)
	release := make(chan struct{})
	addr := startUAS(t, func(req *sip.Request, tx sip.ServerTransaction) {
		local := sdp.Local{Address: sink.addr.Addr(), Port: int(sink.addr.Port())}
		answer, _, err := sdp.Answer(&local, req.Body())
		if err != nil {
			t.Errorf("UAS: %v", err)
			return
		}
		respond := func(code int, reason string) {
			res := sip.NewResponseFromRequest(req, code, reason, answer)
			res.To().Params.Add("tag", "uas")
			res.AppendHeader(&sip.ContactHeader{Address: req.Recipient}) // where it was reached
			res.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
			if err := tx.Respond(res); err != nil {
				t.Errorf("UAS %d: %v", code, err)
			}
		}
		respond(183, "Session Progress")
		<-release
		respond(200, "OK")
	})
	c := a.dial("sip:early@" + addr)
	waitCall(t, c, "early media", func(i CallInfo) bool { return i.State == CallEarly && i.HasMedia })
	eventually(t, "our media during the early dialog", func() bool { return sink.count() > 5 })
	close(release)
	waitCallState(t, c, CallConnected)
	eventually(t, "the no-RTP alarm and quality reports", func() bool {
		a.mu.Lock()
		defer a.mu.Unlock()
		kinds := map[MediaEventKind]bool{}
		for _, ev := range a.media {
			if ev.CallID == c.ID() {
				kinds[ev.Kind] = true
			}
		}
		return kinds[MediaNoRTP] && kinds[MediaQuality]
	})
	c.Hangup()
	waitEnded(t, c, EndLocalHangup)
}
