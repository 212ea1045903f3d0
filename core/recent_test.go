package core

import (
	"fmt"
	"strings"
	"testing"

	"github.com/tandem-softphone/tandem/sipua"
)

func TestDialTarget(t *testing.T) {
	for uri, want := range map[string]string{
		"sip:5001@127.0.0.1:5060":                  "5001",
		"sips:+33123456789@sbc.example;user=phone": "+33123456789",
		"<sip:9000@site1.example>":                 "9000",
		"SIP:echo@example.com?subject=x":           "echo",
		"sip:gateway.example":                      "gateway.example",
		"tel:+4930123":                             "+4930123",
		"":                                         "",
		"sip:":                                     "",
	} {
		if got := DialTarget(sipua.CallInfo{PeerURI: uri}); got != want {
			t.Errorf("DialTarget(%q) = %q, want %q", uri, got, want)
		}
	}
}

func TestRecentNumbers(t *testing.T) {
	h := []sipua.CallInfo{
		{PeerURI: "sip:1@a"},
		{PeerURI: "sip:2@a"},
		{PeerURI: "sip:1@b"}, // the same number through the other site
		{PeerURI: "sip:3@a", EndReason: sipua.EndStored},
		{PeerURI: ""},
		{PeerURI: "sip:4@a"},
	}
	if got := fmt.Sprint(RecentNumbers(h, 10)); got != "[4 1 2]" {
		t.Errorf("RecentNumbers = %s, want [4 1 2]", got)
	}
	if got := fmt.Sprint(RecentNumbers(h, 2)); got != "[4 1]" {
		t.Errorf("RecentNumbers(2) = %s, want [4 1]", got)
	}
	if got := RecentNumbers(nil, 5); len(got) != 0 {
		t.Errorf("RecentNumbers(nil) = %q", got)
	}
}

// FuzzDialTarget: a peer's address from the network never crashes it and
// never gives a target with the URI's separators left in.
func FuzzDialTarget(f *testing.F) {
	for _, s := range []string{"sip:5001@127.0.0.1:5060", "<sips:a@b;x=y>", "tel:+1", "sip:@", "<<>>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, uri string) {
		got := DialTarget(sipua.CallInfo{PeerURI: uri})
		if strings.ContainsAny(got, "@;?<") {
			t.Fatalf("DialTarget(%q) = %q", uri, got)
		}
	})
}
