package sipua

import (
	"math/rand/v2"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

func TestDialogRequest(t *testing.T) {
	d := DialogState{
		CallID:       "abc@host",
		LocalTag:     "lt",
		RemoteTag:    "rt",
		LocalURI:     "sip:1001@site1.test",
		LocalName:    "Agent",
		RemoteURI:    "sip:2001@site1.test",
		LocalCSeq:    7,
		RemoteTarget: "sip:2001@10.0.0.2:5070;transport=tcp",
		LocalContact: "sip:1001@127.0.0.1:5060",
		Transport:    TransportUDP,
	}
	for _, tc := range []struct {
		name      string
		routes    []string
		ruri      string
		wantRoute []string
		dest      string
		transport string
	}{
		{"no route set: straight to the target", nil,
			"sip:2001@10.0.0.2:5070;transport=tcp", nil, "10.0.0.2:5070", "tcp"},
		{"loose router first", []string{"sip:proxy.test;lr", "sip:10.0.0.9:5080;lr"},
			"sip:2001@10.0.0.2:5070;transport=tcp", []string{"<sip:proxy.test;lr>", "<sip:10.0.0.9:5080;lr>"}, "proxy.test:5060", "udp"},
		{"loose router over TLS", []string{"sips:proxy.test:5061;lr"},
			"sip:2001@10.0.0.2:5070;transport=tcp", []string{"<sips:proxy.test:5061;lr>"}, "proxy.test:5061", "tls"},
		{"strict router", []string{"sip:strict.test:5090", "sip:next.test;lr"},
			"sip:strict.test:5090", []string{"<sip:next.test;lr>", "<sip:2001@10.0.0.2:5070;transport=tcp>"}, "strict.test:5090", "udp"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := d
			d.RouteSet = tc.routes
			req, dest, transport, err := d.newRequest(sip.BYE, d.nextCSeq())
			if err != nil {
				t.Fatal(err)
			}
			if got := req.Recipient.String(); got != tc.ruri {
				t.Errorf("Request-URI %s, want %s", got, tc.ruri)
			}
			var routes []string
			for _, h := range req.GetHeaders("Route") {
				routes = append(routes, h.Value())
			}
			if !slices.Equal(routes, tc.wantRoute) {
				t.Errorf("Route %q, want %q", routes, tc.wantRoute)
			}
			if dest != tc.dest || transport != tc.transport {
				t.Errorf("next hop %s over %s, want %s over %s", dest, transport, tc.dest, tc.transport)
			}
			if got := req.From().Value(); got != `"Agent" <sip:1001@site1.test>;tag=lt` {
				t.Errorf("From %s", got)
			}
			if got := req.To().Value(); got != "<sip:2001@site1.test>;tag=rt" {
				t.Errorf("To %s", got)
			}
			if req.CSeq().SeqNo != 8 || req.CallID().Value() != "abc@host" || req.Contact() != nil {
				t.Errorf("CSeq %v Call-ID %v Contact %v", req.CSeq(), req.CallID(), req.Contact())
			}
		})
	}

	// A target refresh carries our Contact; ACK keeps the INVITE's CSeq.
	req, _, _, err := d.newRequest(sip.INVITE, d.nextCSeq())
	if err != nil {
		t.Fatal(err)
	}
	if req.Contact() == nil || req.Contact().Address.String() != d.LocalContact {
		t.Errorf("re-INVITE Contact %v", req.Contact())
	}
	ack, _, _, _ := d.newRequest(sip.ACK, req.CSeq().SeqNo)
	if ack.CSeq().SeqNo != req.CSeq().SeqNo || d.LocalCSeq != req.CSeq().SeqNo {
		t.Errorf("ACK CSeq %d after INVITE %d, local CSeq %d", ack.CSeq().SeqNo, req.CSeq().SeqNo, d.LocalCSeq)
	}

	for _, bad := range []DialogState{
		{},
		{RemoteTarget: "::nonsense"},
		{RemoteTarget: "sip:a@b", RouteSet: []string{"::"}},
	} {
		if _, _, _, err := bad.newRequest(sip.BYE, 1); err == nil {
			t.Errorf("%+v: no error", bad)
		}
	}
}

// The route set is taken from Record-Route: as is by the callee, reversed
// by the caller.
func TestRouteSetFromRecordRoute(t *testing.T) {
	res := parseResponse(t,
		"SIP/2.0 200 OK",
		"Via: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bK1",
		"Record-Route: <sip:p1.test;lr>, <sip:p2.test;lr>",
		"Record-Route: <sip:p3.test;lr>",
		"From: <sip:a@x>;tag=1",
		"To: <sip:b@x>;tag=2",
		"Call-ID: c",
		"CSeq: 1 INVITE",
	)
	var d DialogState
	d.setRouteSet(res, false)
	if want := []string{"sip:p1.test;lr", "sip:p2.test;lr", "sip:p3.test;lr"}; !slices.Equal(d.RouteSet, want) {
		t.Errorf("callee route set %v", d.RouteSet)
	}
	d.setRouteSet(res, true)
	if want := []string{"sip:p3.test;lr", "sip:p2.test;lr", "sip:p1.test;lr"}; !slices.Equal(d.RouteSet, want) {
		t.Errorf("caller route set %v", d.RouteSet)
	}
}

func TestTargetURI(t *testing.T) {
	a := Account{Domain: "site1.test"}
	for in, want := range map[string]string{
		"2001":                   "sip:2001@site1.test",
		" 2001@other.test ":      "sip:2001@other.test",
		"sip:2001@10.0.0.1:5070": "sip:2001@10.0.0.1:5070",
		"SIPS:2001@secure.test":  "sips:2001@secure.test",
	} {
		u, err := targetURI(in, a)
		if err != nil || u.String() != want {
			t.Errorf("%q: %v %v, want %s", in, u.String(), err, want)
		}
	}
	for _, in := range []string{"", "sip:", "sip:@"} {
		if _, err := targetURI(in, a); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}

func TestEndReasonFor(t *testing.T) {
	for code, want := range map[int]EndReason{486: EndBusy, 600: EndBusy, 603: EndDeclined, 404: EndNotFound,
		604: EndNotFound, 480: EndUnavailable, 408: EndUnavailable, 488: EndMediaRefused, 606: EndMediaRefused,
		403: EndFailed, 500: EndFailed} {
		if got := endReasonFor(code); got != want {
			t.Errorf("%d: %v, want %v", code, got, want)
		}
	}
}

func TestSipfrag(t *testing.T) {
	for body, want := range map[string]int{
		"SIP/2.0 100 Trying\r\n":          100,
		"SIP/2.0 200 OK":                  200,
		"SIP/2.0 486 Busy Here\r\nVia: x": 486,
		"  SIP/2.0 603 Decline\n":         603,
		"SIP/2.0 180 Ringing\r\n\r\nbody": 180,
	} {
		code, _, err := parseSipfrag([]byte(body))
		if err != nil || code != want {
			t.Errorf("%q: %d %v, want %d", body, code, err, want)
		}
	}
	for _, body := range []string{"", "hello", "SIP/2.0", "SIP/2.0 99 Low", "SIP/2.0 700 High", "HTTP/1.1 200 OK", "SIP/2.0 2x0 OK"} {
		if _, _, err := parseSipfrag([]byte(body)); err == nil {
			t.Errorf("%q accepted", body)
		}
	}
}

func TestReplacesAndReferTo(t *testing.T) {
	r, err := parseReplaces("abc@host;to-tag=7743;from-tag=6472;early-only")
	if err != nil || r != (replaces{"abc@host", "7743", "6472"}) {
		t.Errorf("replaces %+v %v", r, err)
	}
	for _, bad := range []string{"", ";to-tag=1;from-tag=2", "id;to-tag=1", "id;from-tag=2", "id;to-tag=;from-tag=2", "id\r\nX: y;to-tag=1;from-tag=2"} {
		if _, err := parseReplaces(bad); err == nil {
			t.Errorf("replaces %q accepted", bad)
		}
	}

	// What AttendedTransfer writes, Refer-To handling reads back.
	value := "a1b2;c3@host.test;to-tag=x=y;from-tag=f t"
	escaped := escapeHeaderValue(value)
	if strings.ContainsAny(escaped, ";=@ ") {
		t.Errorf("escaped %q", escaped)
	}
	if back, err := url.PathUnescape(escaped); err != nil || back != value {
		t.Errorf("round trip %q %v", back, err)
	}
	u, rep, err := parseReferTo("<sip:3001@127.0.0.1:5070?Replaces=" + escapeHeaderValue("id@h;to-tag=a;from-tag=b") + ">")
	if err != nil || rep != "id@h;to-tag=a;from-tag=b" || u.String() != "sip:3001@127.0.0.1:5070" {
		t.Errorf("refer-to: %s %q %v", u.String(), rep, err)
	}
	u, rep, err = parseReferTo(`"Target" <sip:3001@site1.test;user=phone>`)
	if err != nil || rep != "" || u.String() != "sip:3001@site1.test;user=phone" {
		t.Errorf("blind refer-to: %s %q %v", u.String(), rep, err)
	}
	for _, bad := range []string{"", "<tel:+123>", "<sip:a@b?Replaces=%zz>", "<sip:a@b?Replaces=id>", "*",
		"<sip:a@b?Replaces=id%0D%0AX:%20y%3Bto-tag%3D1%3Bfrom-tag%3D2>"} {
		if _, _, err := parseReferTo(bad); err == nil {
			t.Errorf("refer-to %q accepted", bad)
		}
	}
}

func TestDTMFRelay(t *testing.T) {
	for body, want := range map[string]struct {
		digit rune
		dur   time.Duration
	}{
		"Signal=5\r\nDuration=160\r\n": {'5', 160 * time.Millisecond},
		"signal= #\nduration=100":      {'#', 100 * time.Millisecond},
		"Signal=10":                    {'*', 0},
		"Signal=d":                     {'D', 0},
	} {
		d, dur, err := parseDTMFRelay(body)
		if err != nil || d != want.digit || dur != want.dur {
			t.Errorf("%q: %q %v %v", body, d, dur, err)
		}
	}
	for _, bad := range []string{"", "Duration=100", "Signal=55", "Signal=E", "Signal=1\nDuration=-5"} {
		if _, _, err := parseDTMFRelay(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// The correlation the audio tests rely on tells audio that arrived from
// audio that did not: a delayed copy with a lost frame passes, other
// audio and noise do not.
func TestCorrelationMeasure(t *testing.T) {
	up := chirp(300, 3000, time.Second)
	heard := append(make([]int16, 600), up[:4000]...)
	heard = append(heard, make([]int16, 160)...) // a frame of silence: the rest comes a frame late
	heard = append(heard, up[4000:]...)
	if r := correlation(up, heard); r < 0.95 {
		t.Errorf("delayed copy: %.2f", r)
	}
	if r := correlation(up, chirp(3000, 300, time.Second)); r > 0.5 {
		t.Errorf("another chirp: %.2f", r)
	}
	noise := make([]int16, 8000)
	for i := range noise {
		noise[i] = int16(rand.IntN(20000) - 10000)
	}
	if r := correlation(up, noise); r > 0.3 {
		t.Errorf("noise: %.2f", r)
	}
	if r := correlation(up, make([]int16, 8000)); r != 0 {
		t.Errorf("silence: %.2f", r)
	}
}
