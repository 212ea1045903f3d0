package sipproxy

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/tandem-softphone/tandem/internal/testutil"
)

// routeTo routes every INVITE for user to t, and refuses the others with 404.
func routeTo(user string, t Target) RouterFunc {
	return func(req *sip.Request) Target {
		if req.Recipient.User != user {
			return Target{Status: sip.StatusNotFound}
		}
		return t
	}
}

func wantEvent(t *testing.T, s *site, kind CallEventKind, status int, callID string) {
	t.Helper()
	e := s.events.Next(t)
	if e.Kind != kind || e.Status != status || e.CallID != callID {
		t.Fatalf("call event %+v, want %v %d for %s", e, kind, status, callID)
	}
}

func headerCount(m sip.Message, name string) int { return len(m.GetHeaders(name)) }

// A call through the proxy: the INVITE goes where the router says, with the
// proxy's Via and Record-Route (one per side when the transports differ,
// RFC 5658); the ACK, in-dialog requests (re-INVITE, REFER, NOTIFY, INFO)
// and the BYE pass through the proxy; the proxy reports the answer and the
// end.
func TestCallThroughProxy(t *testing.T) {
	for _, c := range []struct {
		name             string
		caller, callee   string // transports
		calleeHangsUp    bool
		wantRecordRoutes int
	}{
		{"udp to udp", "udp", "UDP", true, 1},
		{"tcp to udp", "tcp", "UDP", false, 2},
		{"udp to tcp", "udp", "TCP", true, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			caller, callee := newEndpoint(t, nil), newEndpoint(t, nil)
			target := callee.target("callee", c.callee)
			if c.callee == "TCP" {
				target.Addr = callee.tcpAddr.String()
			}
			s := startSite(t, routeTo("5001", target))

			dialog, err := caller.call(testutil.Context(t), s.uri("5001", c.caller))
			if err != nil {
				t.Fatalf("call: %v", err)
			}
			callID := dialog.InviteRequest.CallID().Value()
			inv := callee.invites.Next(t)
			if inv.Recipient.User != "callee" || inv.Recipient.Port != target.URI.Port {
				t.Fatalf("INVITE delivered to %s, want %s", inv.Recipient.String(), target.URI.String())
			}
			if n := headerCount(inv, "Via"); n != 2 {
				t.Fatalf("INVITE with %d Via, want the caller's and the proxy's", n)
			}
			if mf := inv.MaxForwards(); mf == nil || mf.Val() != 69 {
				t.Fatalf("Max-Forwards %v, want 69", mf)
			}
			if n := headerCount(inv, "Record-Route"); n != c.wantRecordRoutes {
				t.Fatalf("INVITE with %d Record-Route, want %d: %v", n, c.wantRecordRoutes, inv.GetHeaders("Record-Route"))
			}
			for _, rr := range inv.GetHeaders("Record-Route") {
				if !strings.Contains(rr.Value(), ";lr") {
					t.Fatalf("Record-Route %q is not a loose route", rr.Value())
				}
			}
			if n := headerCount(dialog.InviteResponse, "Record-Route"); n != c.wantRecordRoutes {
				t.Fatalf("200 OK with %d Record-Route", n)
			}
			if n := headerCount(dialog.InviteResponse, "Via"); n != 1 {
				t.Fatalf("200 OK reached the caller with %d Via", n)
			}
			if err := dialog.Ack(testutil.Context(t)); err != nil {
				t.Fatal(err)
			}
			// The callee's answer returns once the ACK came through.
			if err := callee.answered.Next(t); err != nil {
				t.Fatalf("callee's answer: %v", err)
			}
			wantEvent(t, s, CallAnswered, sip.StatusOK, callID)

			// In-dialog requests from the caller follow the route set.
			for _, m := range []sip.RequestMethod{sip.INVITE, sip.REFER, sip.NOTIFY, sip.INFO} {
				res, err := dialog.Do(testutil.Context(t), sip.NewRequest(m, dialog.InviteResponse.Contact().Address))
				if err != nil || res.StatusCode != sip.StatusOK {
					t.Fatalf("in-dialog %s: %v %v", m, res, err)
				}
				got := callee.inDialog.Next(t)
				if got.Method != m || headerCount(got, "Via") != 2 || headerCount(got, "Route") != 0 {
					t.Fatalf("in-dialog %s arrived as %s with Via %v Route %v", m, got.Method, got.GetHeaders("Via"), got.GetHeaders("Route"))
				}
				if m == sip.INVITE {
					// The ACK of the re-INVITE's 2xx passes too.
					if err := dialog.Ack(testutil.Context(t)); err != nil {
						t.Fatal(err)
					}
				}
			}

			if c.calleeHangsUp {
				callee.mu.Lock()
				uas := callee.servers[callee.onlyServer()]
				callee.mu.Unlock()
				if err := uas.Bye(testutil.Context(t)); err != nil {
					t.Fatalf("callee's BYE: %v", err)
				}
				caller.byes.Next(t)
			} else {
				if err := dialog.Bye(testutil.Context(t)); err != nil {
					t.Fatalf("caller's BYE: %v", err)
				}
				callee.byes.Next(t)
			}
			wantEvent(t, s, CallEnded, sip.StatusOK, callID)
		})
	}
}

// onlyServer is the ID of the endpoint's only UAS dialog; e.mu is held.
func (e *endpoint) onlyServer() string {
	for id := range e.servers {
		return id
	}
	e.t.Fatal("no UAS dialog")
	return ""
}

// The proxy's own refusals: the router's (no call event), Max-Forwards 0
// (483), an initial request other than INVITE for the proxy (405), an
// in-dialog request with no route beyond the proxy (481), and a next hop
// that cannot be reached (503, a failed call).
func TestRefusals(t *testing.T) {
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := dead.Addr().String()
	dead.Close()
	s := startSite(t, func(req *sip.Request) Target {
		switch req.Recipient.User {
		case "away":
			return Target{Status: sip.StatusTemporarilyUnavailable, Reason: "Agent Logged Out"}
		case "dead":
			port, _ := strconv.Atoi(deadAddr[strings.LastIndex(deadAddr, ":")+1:])
			return Target{URI: sip.Uri{Scheme: "sip", User: "dead", Host: "127.0.0.1", Port: port}, Transport: "TCP"}
		}
		return Target{Status: sip.StatusNotFound}
	})
	caller := newEndpoint(t, nil)

	_, err = caller.call(testutil.Context(t), s.uri("away", "udp"))
	if status(err) != sip.StatusTemporarilyUnavailable {
		t.Fatalf("call to an agent away: %v", err)
	}
	var de *sipgo.ErrDialogResponse
	if errors.As(err, &de) && de.Res.Reason != "Agent Logged Out" {
		t.Fatalf("reason %q", de.Res.Reason)
	}

	dialog, err := caller.call(testutil.Context(t), s.uri("dead", "udp"))
	if status(err) != sip.StatusServiceUnavailable {
		t.Fatalf("call to a dead next hop: %v", err)
	}
	wantEvent(t, s, CallFailed, sip.StatusServiceUnavailable, dialog.InviteRequest.CallID().Value())

	do := func(req *sip.Request) int {
		t.Helper()
		res, err := caller.client.Do(testutil.Context(t), req)
		if err != nil {
			t.Fatalf("%s: %v", req.Method, err)
		}
		return res.StatusCode
	}
	inv := sip.NewRequest(sip.INVITE, s.uri("away", "udp"))
	mf := sip.MaxForwardsHeader(0)
	inv.AppendHeader(&mf)
	if got := do(inv); got != sip.StatusTooManyHops {
		t.Fatalf("INVITE with Max-Forwards 0: %d", got)
	}
	if got := do(sip.NewRequest(sip.MESSAGE, s.uri("5001", "udp"))); got != sip.StatusMethodNotAllowed {
		t.Fatalf("MESSAGE for the proxy: %d", got)
	}
	bye := sip.NewRequest(sip.BYE, s.uri("5001", "udp"))
	to := &sip.ToHeader{Address: s.uri("5001", "udp")}
	to.Params.Add("tag", "gone")
	bye.AppendHeader(to)
	if got := do(bye); got != sip.StatusCallTransactionDoesNotExists {
		t.Fatalf("in-dialog BYE with no route: %d", got)
	}
	if n := len(s.events.All()); n != 1 {
		t.Fatalf("%d call events, want only the dead next hop's", n)
	}
}

// The callee's refusal reaches the caller, and the call failed.
func TestCalleeRefuses(t *testing.T) {
	caller := newEndpoint(t, nil)
	callee := newEndpoint(t, func(s *sipgo.DialogServerSession) error {
		return s.Respond(sip.StatusBusyHere, "Busy Here", nil)
	})
	s := startSite(t, routeTo("5001", callee.target("callee", "UDP")))
	dialog, err := caller.call(testutil.Context(t), s.uri("5001", "udp"))
	if status(err) != sip.StatusBusyHere {
		t.Fatalf("call: %v", err)
	}
	wantEvent(t, s, CallFailed, sip.StatusBusyHere, dialog.InviteRequest.CallID().Value())
}

// The caller cancels while the callee rings: the CANCEL goes on to the
// callee, the caller gets 487, the call failed.
func TestCancel(t *testing.T) {
	caller := newEndpoint(t, nil)
	ringing := make(chan struct{})
	callee := newEndpoint(t, func(s *sipgo.DialogServerSession) error {
		if err := s.Respond(sip.StatusRinging, "Ringing", nil); err != nil {
			return err
		}
		close(ringing)
		<-s.Context().Done()
		return context.Cause(s.Context())
	})
	s := startSite(t, routeTo("5001", callee.target("callee", "UDP")))
	ctx, cancel := context.WithCancel(testutil.Context(t))
	result := make(chan error, 1)
	var dialog *sipgo.DialogClientSession
	go func() {
		var err error
		dialog, err = caller.call(ctx, s.uri("5001", "udp"))
		result <- err
	}()
	select {
	case <-ringing:
	case <-time.After(testutil.Wait):
		t.Fatal("the callee never rang")
	}
	cancel()
	if err := <-result; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled call: %v", err)
	}
	if err := callee.answered.Next(t); !errors.Is(err, sip.ErrTransactionCanceled) {
		t.Fatalf("the callee's side of a cancelled call ended with %v", err)
	}
	wantEvent(t, s, CallFailed, sip.StatusRequestTerminated, dialog.InviteRequest.CallID().Value())
}

// A callee that answers 200 after the caller cancelled (the race of RFC 3261
// §9.1) gets the ACK and a BYE from the proxy; the caller sees 487.
func TestAnswerAfterCancel(t *testing.T) {
	caller, callee := newEndpoint(t, nil), newRaw(t)
	s := startSite(t, routeTo("5001", Target{URI: sip.Uri{Scheme: "sip", User: "late", Host: "127.0.0.1", Port: callee.port()}}))
	ctx, cancel := context.WithCancel(testutil.Context(t))
	result := make(chan error, 1)
	go func() {
		_, err := caller.call(ctx, s.uri("5001", "udp"))
		result <- err
	}()
	inv, from := callee.read(sip.INVITE)
	callee.respond(inv, from, sip.StatusRinging, "late", "")
	// The caller may cancel once the 180 reached it; its CANCEL then reaches
	// the callee through the proxy.
	time.Sleep(50 * time.Millisecond)
	cancel()
	c, cfrom := callee.read(sip.CANCEL)
	callee.respond(c, cfrom, sip.StatusOK, "", "")
	callee.respond(inv, from, sip.StatusOK, "late", "v=0\r\n")
	ack, _ := callee.read(sip.ACK)
	bye, byeFrom := callee.read(sip.BYE)
	callee.respond(bye, byeFrom, sip.StatusOK, "", "")
	if ack.CSeq().SeqNo != inv.CSeq().SeqNo || !bye.To().Params.Has("tag") || bye.CallID().Value() != inv.CallID().Value() {
		t.Fatalf("ACK %s / BYE %s do not end the late dialog", ack.Short(), bye.Short())
	}
	if err := <-result; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled call: %v", err)
	}
	wantEvent(t, s, CallFailed, sip.StatusRequestTerminated, inv.CallID().Value())
}

// Route entries: ours are popped, the next one is the hop with its
// transport; one that does not parse is an error (400 for the request).
func TestNextHop(t *testing.T) {
	st := &stack{ip: netip.MustParseAddr("127.0.0.1"), udp: 5070, tcp: 5071}
	req := sip.NewRequest(sip.BYE, sip.Uri{Scheme: "sip", User: "5001", Host: "127.0.0.1", Port: 5999})
	req.AppendHeader(sip.NewHeader("Route", "<sip:127.0.0.1:5070;transport=udp;lr>"))
	req.AppendHeader(sip.NewHeader("Route", "<sip:127.0.0.1:5071;transport=tcp;lr>"))
	req.AppendHeader(sip.NewHeader("Route", "<sip:127.0.0.1:5080;transport=tcp;lr>"))
	h, self, err := st.nextHop(req)
	if err != nil || self || h.addr != "127.0.0.1:5080" || h.transport != "TCP" || h.uri.Port != 5999 {
		t.Fatalf("next hop %+v self %v err %v", h, self, err)
	}
	if n := len(req.GetHeaders("Route")); n != 1 {
		t.Fatalf("%d Route left, want the next hop's", n)
	}

	req = sip.NewRequest(sip.BYE, sip.Uri{Scheme: "sip", User: "5001", Host: "[::1]", Port: 5999})
	if h, _, err := st.nextHop(req); err != nil || h.addr != "[::1]:5999" || h.transport != "UDP" {
		t.Fatalf("IPv6 next hop %+v %v", h, err)
	}

	req = sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", User: "5001", Host: "127.0.0.1", Port: 5070})
	if _, self, err := st.nextHop(req); err != nil || !self {
		t.Fatalf("a request for us: self %v err %v", self, err)
	}
	// Our host without a port is our domain; with another port, someone else.
	req = sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", User: "9000", Host: "127.0.0.1"})
	if _, self, err := st.nextHop(req); err != nil || !self {
		t.Fatalf("a request for our domain: self %v err %v", self, err)
	}
	req = sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", User: "9000", Host: "127.0.0.1", Port: 5999})
	if h, self, err := st.nextHop(req); err != nil || self || h.addr != "127.0.0.1:5999" {
		t.Fatalf("a request for another port of our host: %+v self %v err %v", h, self, err)
	}
	req.AppendHeader(sip.NewHeader("Route", "<sip:127.0.0.1:1;lr"))
	if _, _, err := st.nextHop(req); err == nil {
		t.Fatal("a broken Route gave a next hop")
	}
}

func TestNewNeedsRouter(t *testing.T) {
	if _, err := New(Options{}); err == nil {
		t.Fatal("New without a Router succeeded")
	}
}
