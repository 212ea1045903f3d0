package core

import (
	"testing"

	"github.com/tandem-softphone/tandem/sipua"
)

func TestShortcutTargets(t *testing.T) {
	ringing := sipua.CallInfo{ID: "r", Direction: sipua.Incoming, State: sipua.CallRinging}
	connected := sipua.CallInfo{ID: "c", Direction: sipua.Incoming, State: sipua.CallConnected}
	held1 := sipua.CallInfo{ID: "h1", Direction: sipua.Outgoing, State: sipua.CallHeld, LocalHold: true}
	held2 := sipua.CallInfo{ID: "h2", Direction: sipua.Incoming, State: sipua.CallHeld, LocalHold: true}
	dialing := sipua.CallInfo{ID: "d", Direction: sipua.Outgoing, State: sipua.CallDialing}
	ending := sipua.CallInfo{ID: "e", Direction: sipua.Outgoing, State: sipua.CallEnding}
	for _, tc := range []struct {
		name           string
		calls          []sipua.CallInfo
		ringing, activ string
	}{
		{"none", nil, "", ""},
		{"ringing only", []sipua.CallInfo{ringing}, "r", ""},
		{"call waiting", []sipua.CallInfo{connected, ringing}, "r", "c"},
		{"connected beats held", []sipua.CallInfo{held1, connected}, "", "c"},
		{"last held", []sipua.CallInfo{held1, held2}, "", "h2"},
		{"dialing", []sipua.CallInfo{ending, dialing}, "", "d"},
		{"ending is no target", []sipua.CallInfo{ending}, "", ""},
	} {
		r, ok := RingingCall(tc.calls)
		if r.ID != tc.ringing || ok != (tc.ringing != "") {
			t.Errorf("%s: RingingCall = %q %v, want %q", tc.name, r.ID, ok, tc.ringing)
		}
		a, ok := ActiveCall(tc.calls)
		if a.ID != tc.activ || ok != (tc.activ != "") {
			t.Errorf("%s: ActiveCall = %q %v, want %q", tc.name, a.ID, ok, tc.activ)
		}
	}
}
