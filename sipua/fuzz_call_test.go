package sipua

import (
	"strings"
	"testing"
)

// The parsers of what peers send within calls: never a panic, and what
// they accept is usable.

func FuzzSipfrag(f *testing.F) {
	f.Add([]byte("SIP/2.0 200 OK\r\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		code, _, err := parseSipfrag(body)
		if err == nil && (code < 100 || code > 699) {
			t.Fatalf("accepted status %d", code)
		}
	})
}

func FuzzReplaces(f *testing.F) {
	f.Add("abc@host;to-tag=1;from-tag=2")
	f.Fuzz(func(t *testing.T, v string) {
		r, err := parseReplaces(v)
		if err == nil && (r.callID == "" || r.toTag == "" || r.fromTag == "" || strings.ContainsAny(v, "\r\n\x00")) {
			t.Fatalf("accepted %q as %+v", v, r)
		}
	})
}

func FuzzReferTo(f *testing.F) {
	f.Add("<sip:3001@127.0.0.1:5070?Replaces=id%40h%3Bto-tag%3Da%3Bfrom-tag%3Db>")
	f.Fuzz(func(t *testing.T, v string) {
		u, rep, err := parseReferTo(v)
		if err != nil {
			return
		}
		if u.Scheme != "sip" && u.Scheme != "sips" || u.Host == "" || len(u.Headers) != 0 {
			t.Fatalf("accepted %q as %s", v, u.String())
		}
		if rep != "" {
			if _, err := parseReplaces(rep); err != nil {
				t.Fatalf("accepted Replaces %q: %v", rep, err)
			}
		}
	})
}

func FuzzDTMFRelay(f *testing.F) {
	f.Add("Signal=5\r\nDuration=160\r\n")
	f.Fuzz(func(t *testing.T, body string) {
		d, _, err := parseDTMFRelay(body)
		if err == nil && !strings.ContainsRune("0123456789*#ABCD", d) {
			t.Fatalf("accepted digit %q", d)
		}
	})
}
