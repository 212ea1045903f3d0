package core

import (
	"strings"

	"github.com/tandem-softphone/tandem/sipua"
)

// DialTarget is what to dial to call a call's peer again: the user part of
// its address (a number, dialled at the current site's domain, BC-2), or
// the address's host when it has no user part. "" when there is nothing to
// dial.
func DialTarget(ci sipua.CallInfo) string {
	s := strings.TrimSpace(ci.PeerURI)
	if i := strings.IndexByte(s, '<'); i >= 0 {
		s = s[i+1:]
		if j := strings.IndexByte(s, '>'); j >= 0 {
			s = s[:j]
		}
	}
	for _, scheme := range []string{"sips:", "sip:", "tel:"} {
		if len(s) >= len(scheme) && strings.EqualFold(s[:len(scheme)], scheme) {
			s = s[len(scheme):]
			break
		}
	}
	if i := strings.IndexAny(s, ";?"); i >= 0 {
		s = s[:i]
	}
	if i := strings.IndexByte(s, '@'); i >= 0 {
		s = s[:i]
	}
	s = strings.TrimSpace(s)
	if strings.ContainsAny(s, "<>\"@;? \t\r\n") {
		return "" // not an address we can read: nothing to dial
	}
	return s
}

// RecentNumbers are the distinct targets of the calls of a history (oldest
// first, as State.CallHistory), the most recent first, at most limit. Calls
// stored to go on in another endpoint did not end for the agent: they are
// left out.
func RecentNumbers(history []sipua.CallInfo, limit int) []string {
	var out []string
	seen := map[string]bool{}
	for i := len(history) - 1; i >= 0 && len(out) < limit; i-- {
		ci := history[i]
		if ci.EndReason == sipua.EndStored {
			continue
		}
		n := DialTarget(ci)
		if n == "" || seen[n] {
			continue
		}
		seen[n] = true
		out = append(out, n)
	}
	return out
}
