package sipua

import (
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

func parseResponse(t testing.TB, lines ...string) *sip.Response {
	t.Helper()
	msg, err := sip.ParseMessage([]byte(strings.Join(lines, "\r\n") + "\r\nContent-Length: 0\r\n\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	res, ok := msg.(*sip.Response)
	if !ok {
		t.Fatalf("not a response: %T", msg)
	}
	return res
}

var ourContact = sip.Uri{Scheme: "sip", User: "1001", Host: "127.0.0.1", Port: 5070,
	UriParams: sip.HeaderParams{{K: "transport", V: "tcp"}}}

func TestGrantedExpiry(t *testing.T) {
	head := []string{
		"SIP/2.0 200 OK",
		"Via: SIP/2.0/TCP 127.0.0.1:5070;branch=z9hG4bK1",
		"From: <sip:1001@site1.test>;tag=a",
		"To: <sip:1001@site1.test>;tag=b",
		"Call-ID: c",
		"CSeq: 2 REGISTER",
	}
	for _, tc := range []struct {
		name  string
		extra []string
		want  time.Duration
	}{
		{"our contact's parameter", []string{
			"Contact: <sip:1001@10.0.0.9:5060>;expires=3600",
			"Contact: <sip:1001@127.0.0.1:5070;transport=TCP>;expires=120;+sip.instance=\"<urn:uuid:x>\"",
			"Expires: 900",
		}, 120 * time.Second},
		{"other transport is not ours", []string{"Contact: <sip:1001@127.0.0.1:5070>;expires=120", "Expires: 900"}, 900 * time.Second},
		{"Expires header", []string{"Expires: 45"}, 45 * time.Second},
		{"nothing: what we asked", nil, 300 * time.Second},
		{"malformed parameter", []string{"Contact: <sip:1001@127.0.0.1:5070;transport=tcp>;expires=soon"}, 300 * time.Second},
		{"removed", []string{"Contact: <sip:1001@127.0.0.1:5070;transport=tcp>;expires=0"}, 0},
	} {
		res := parseResponse(t, append(head, tc.extra...)...)
		if got := grantedExpiry(res, ourContact, 300*time.Second); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestRetryAfterAndMinExpires(t *testing.T) {
	head := []string{"SIP/2.0 503 Service Unavailable", "Via: SIP/2.0/UDP h;branch=z9hG4bK1", "Call-ID: c", "CSeq: 1 REGISTER"}
	for _, tc := range []struct {
		value string
		want  time.Duration
	}{
		{"18000;duration=3600", 18000 * time.Second},
		{"120 (I'm in a meeting)", 120 * time.Second},
		{"soon", 0},
	} {
		if got := retryAfter(parseResponse(t, append(head, "Retry-After: "+tc.value)...)); got != tc.want {
			t.Errorf("Retry-After %q: %v, want %v", tc.value, got, tc.want)
		}
	}
	if got := retryAfter(parseResponse(t, head...)); got != 0 {
		t.Errorf("no Retry-After: %v", got)
	}
	res := parseResponse(t, "SIP/2.0 423 Interval Too Brief", "Via: SIP/2.0/UDP h;branch=z9hG4bK1", "Call-ID: c", "CSeq: 1 REGISTER", "Min-Expires: 600")
	if got := minExpires(res); got != 600*time.Second {
		t.Errorf("Min-Expires: %v", got)
	}
}

// FuzzRegisterResponse parses what a registrar could answer and reads the
// fields registration uses from it: never a panic, never a negative time.
func FuzzRegisterResponse(f *testing.F) {
	f.Add([]byte("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nCall-ID: c\r\nCSeq: 1 REGISTER\r\nContact: <sip:1001@127.0.0.1:5070;transport=tcp>;expires=60\r\nExpires: 30\r\nContent-Length: 0\r\n\r\n"))
	f.Add([]byte("SIP/2.0 423 Interval Too Brief\r\nMin-Expires: 99999999999\r\nRetry-After: 5;x\r\nContent-Length: 0\r\n\r\n"))
	f.Add([]byte("SIP/2.0 401 Unauthorized\r\nWWW-Authenticate: Digest realm=\"r\", nonce=\"n\", algorithm=SHA-256, qop=\"auth\"\r\nWWW-Authenticate: Digest realm=\"r\", nonce=\"n\"\r\nContent-Length: 0\r\n\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		msg, err := sip.ParseMessage(data)
		if err != nil {
			return
		}
		res, ok := msg.(*sip.Response)
		if !ok {
			return
		}
		for _, d := range []time.Duration{grantedExpiry(res, ourContact, time.Minute), retryAfter(res), minExpires(res)} {
			if d < 0 {
				t.Fatalf("negative duration %v", d)
			}
		}
		if ch, err := pickChallenge(res); err == nil {
			req := sip.NewRequest(sip.REGISTER, sip.Uri{Scheme: "sip", Host: "h"})
			if err := authorize(req, ch, "u", "p"); err != nil {
				t.Fatalf("picked a challenge it cannot answer: %v", err)
			}
		}
	})
}
