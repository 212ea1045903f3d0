package sipua

import (
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/tandem-softphone/tandem/media/sdp"
)

// The application may decline a peer's transfer request: 603, the
// transferor's transfer fails and the call goes on; accepted, the
// transfer goes ahead.
func TestTransferRequestVeto(t *testing.T) {
	s := startSite(t, "site1.test", nil)
	a := newPhone(t, s, "1001", phoneOptions{})
	var (
		mu     sync.Mutex
		asked  []TransferRequest
		accept bool
	)
	b := newPhone(t, s, "2001", phoneOptions{edit: func(o *Options) {
		o.AcceptTransfer = func(r TransferRequest) bool {
			mu.Lock()
			defer mu.Unlock()
			asked = append(asked, r)
			return accept
		}
	}})
	c := newPhone(t, s, "3001", phoneOptions{})
	ab, ba := connect(t, a, b)

	err := ab.Transfer(c.uri())
	if err == nil || !strings.Contains(err.Error(), "603") {
		t.Fatalf("declined transfer: %v, want a 603 refusal", err)
	}
	if i := ab.Info(); i.Transfer != TransferFailed || i.TransferCode != 603 || i.State != CallConnected {
		t.Fatalf("transferor after the veto: %v %d %v", i.Transfer, i.TransferCode, i.State)
	}
	mu.Lock()
	if len(asked) != 1 || asked[0].CallID != ba.ID() || !strings.Contains(asked[0].Target, "3001") ||
		!strings.Contains(asked[0].ReferredBy, "1001") || asked[0].Attended {
		t.Errorf("asked %+v", asked)
	}
	accept = true
	mu.Unlock()
	if n := len(c.ep.Calls()); n != 0 {
		t.Fatalf("the target got %d calls after the veto", n)
	}
	if st := ba.Info().State; st != CallConnected {
		t.Fatalf("transferee's call after the veto: %v", st)
	}

	if err := ab.Transfer(c.uri()); err != nil {
		t.Fatalf("accepted transfer: %v", err)
	}
	if err := c.incoming().Answer(); err != nil {
		t.Fatal(err)
	}
	waitEnded(t, ab, EndTransferred)
}

// UPDATE within a call (RFC 3311): without a body a session refresh (200,
// no SDP, the peer's new Contact taken); with SDP an offer answered in
// the 200 (the peer holds, then resumes); a body that is not SDP gets
// 415. Allow names UPDATE.
func TestIncomingUpdate(t *testing.T) {
	s := startSite(t, "site1.test", nil)
	a := newPhone(t, s, "1001", phoneOptions{})
	b := newPhone(t, s, "2001", phoneOptions{})
	_, ba := connect(t, a, b)
	client := rawClient(t)

	moved := sip.Uri{Scheme: "sip", User: "1001", Host: "127.0.0.1", Port: 5999}
	res := sendInDialog(t, client, ba, "UPDATE", "", nil, &sip.ContactHeader{Address: moved})
	if res.StatusCode != 200 || len(res.Body()) != 0 || res.Contact() == nil {
		t.Fatalf("refresh UPDATE: %s, body %q", res.StartLine(), res.Body())
	}
	if allow := hdr(res, "Allow"); !strings.Contains(allow, "UPDATE") {
		t.Errorf("Allow %q without UPDATE", allow)
	}
	ba.mu.Lock()
	target := ba.dlg.RemoteTarget
	ba.mu.Unlock()
	if target != moved.String() {
		t.Errorf("remote target %s after UPDATE, want %s", target, moved.String())
	}

	offer := func(dir string) []byte {
		return []byte("v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\na=" + dir + "\r\n")
	}
	res = sendInDialog(t, client, ba, "UPDATE", "application/sdp", offer("sendonly"))
	if res.StatusCode != 200 || !strings.Contains(string(res.Body()), "a=recvonly") {
		t.Fatalf("hold by UPDATE: %s\n%s", res.StartLine(), res.Body())
	}
	waitCall(t, ba, "held by UPDATE", func(i CallInfo) bool { return i.RemoteHold && i.State == CallHeld })
	res = sendInDialog(t, client, ba, "UPDATE", "application/sdp", offer("sendrecv"))
	if res.StatusCode != 200 || !strings.Contains(string(res.Body()), "a=sendrecv") {
		t.Fatalf("resume by UPDATE: %s\n%s", res.StartLine(), res.Body())
	}
	waitCall(t, ba, "resumed by UPDATE", func(i CallInfo) bool { return !i.RemoteHold && i.State == CallConnected })

	if res := sendInDialog(t, client, ba, "UPDATE", "text/plain", []byte("hello")); res.StatusCode != 415 {
		t.Errorf("UPDATE with a text body: %s", res.StartLine())
	}
}

// A re-INVITE answered 491 (both sides renegotiated at once) is sent
// again after RFC 3261 section 14.1's random wait: 2.1 to 4 s for us,
// who placed the call and own its Call-ID; then Hold succeeds.
func TestReinviteGlareRetried(t *testing.T) {
	s := startSite(t, "site1.test", nil)
	clock := newFakeClock()
	p := newPhone(t, s, "1001", phoneOptions{edit: func(o *Options) { o.Clock = clock }})
	var (
		mu      sync.Mutex
		invites []time.Time // when (on the fake clock) each INVITE came
	)
	local := sdp.Local{Address: netip.MustParseAddr("127.0.0.1"), Port: 4002, Codecs: []sdp.Codec{sdp.PCMU}}
	addr := startUAS(t, func(req *sip.Request, tx sip.ServerTransaction) {
		mu.Lock()
		invites = append(invites, clock.Now())
		n := len(invites)
		mu.Unlock()
		if n == 2 {
			tx.Respond(sip.NewResponseFromRequest(req, sip.StatusRequestPending, "Request Pending", nil))
			return
		}
		answer, _, err := sdp.Answer(&local, req.Body())
		if err != nil {
			tx.Respond(sip.NewResponseFromRequest(req, 488, "Not Acceptable Here", nil))
			return
		}
		res := sip.NewResponseFromRequest(req, 200, "OK", answer)
		res.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
		res.AppendHeader(&sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "uas", Host: "127.0.0.1", Port: req.Recipient.Port}})
		if n == 1 {
			res.To().Params.Add("tag", "uas-tag")
		}
		tx.Respond(res)
	})
	c := p.dial("sip:uas@" + addr)
	waitCallState(t, c, CallConnected)
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(invites)
	}

	done := make(chan error, 1)
	go func() { done <- c.Hold() }()
	eventually(t, "the re-INVITE answered 491", func() bool { return count() == 2 })
	for i := 0; count() < 3 && i < 100; i++ {
		clock.Advance(50 * time.Millisecond)
		time.Sleep(2 * time.Millisecond)
	}
	eventually(t, "the re-INVITE sent again", func() bool { return count() == 3 })
	if err := <-done; err != nil {
		t.Fatalf("Hold after a 491: %v", err)
	}
	mu.Lock()
	wait := invites[2].Sub(invites[1])
	mu.Unlock()
	if wait < 2100*time.Millisecond || wait > 4050*time.Millisecond {
		t.Errorf("sent again after %v, want 2.1 to 4 s", wait)
	}
	if i := c.Info(); !i.LocalHold || i.State != CallHeld {
		t.Errorf("after Hold: %v hold %v", i.State, i.LocalHold)
	}
	for range 200 {
		if d := glareDelay(false); d < 0 || d > 2*time.Second {
			t.Fatalf("glare delay of the other side %v", d)
		}
		if d := glareDelay(true); d < 2100*time.Millisecond || d > 4*time.Second {
			t.Fatalf("glare delay of the owner %v", d)
		}
	}
}

// SUBSCRIBE: any package but refer gets 489 Bad Event with Allow-Events
// (RFC 6665); a refer subscription that does not exist 481. The implicit
// subscription of a REFER we accepted is ours to serve: a refresh gets
// 200 and a NOTIFY of the status so far, an unsubscribe 200 and the
// final NOTIFY, after which the transferor sees the transfer end.
func TestIncomingSubscribe(t *testing.T) {
	s := startSite(t, "site1.test", nil)
	a := newPhone(t, s, "1001", phoneOptions{})
	b := newPhone(t, s, "2001", phoneOptions{})
	c := newPhone(t, s, "3001", phoneOptions{})
	ab, ba := connect(t, a, b)
	client := rawClient(t)
	if err := ab.Transfer(c.uri()); err != nil {
		t.Fatal(err)
	}
	c.incoming()
	waitCall(t, ab, "the target rings", func(i CallInfo) bool { return i.TransferCode == 180 })

	// Refusals, in a second call without a transfer.
	_, other := connect(t, a, b)
	for _, tc := range []struct {
		name  string
		extra []sip.Header
		want  int
	}{
		{"presence", []sip.Header{sip.NewHeader("Event", "presence")}, 489},
		{"no Event", nil, 489},
		{"refer of no transfer", []sip.Header{sip.NewHeader("Event", "refer")}, 481},
	} {
		res := sendInDialog(t, client, other, "SUBSCRIBE", "", nil, tc.extra...)
		if res.StatusCode != tc.want {
			t.Errorf("%s: %s, want %d", tc.name, res.StartLine(), tc.want)
		}
		if res.StatusCode == 489 && (hdr(res, "Allow-Events") != "refer" || !strings.Contains(hdr(res, "Allow"), "SUBSCRIBE")) {
			t.Errorf("%s: Allow-Events %q, Allow %q", tc.name, hdr(res, "Allow-Events"), hdr(res, "Allow"))
		}
	}

	// The raw requests below go as A's: A's own later requests would be
	// out of CSeq order, and A sends none.
	res := sendInDialog(t, client, ba, "SUBSCRIBE", "", nil, sip.NewHeader("Event", "refer"), sip.NewHeader("Expires", "30"))
	if res.StatusCode != 200 || hdr(res, "Expires") != "30" {
		t.Fatalf("refresh: %s, Expires %q", res.StartLine(), hdr(res, "Expires"))
	}
	res = sendInDialog(t, client, ba, "SUBSCRIBE", "", nil, sip.NewHeader("Event", "refer"), sip.NewHeader("Expires", "0"))
	if res.StatusCode != 200 || hdr(res, "Expires") != "0" {
		t.Fatalf("unsubscribe: %s, Expires %q", res.StartLine(), hdr(res, "Expires"))
	}
	i := waitCall(t, ab, "the final NOTIFY", func(i CallInfo) bool { return i.Transfer == TransferFailed })
	if i.TransferCode != 180 || !i.State.established() { // held: B answered the second call
		t.Errorf("transferor after the unsubscribe: %v %d", i.State, i.TransferCode)
	}
	res = sendInDialog(t, client, ba, "SUBSCRIBE", "", nil, sip.NewHeader("Event", "refer"))
	if res.StatusCode != 481 {
		t.Errorf("SUBSCRIBE after the end: %s", res.StartLine())
	}
}
