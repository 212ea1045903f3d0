package core

import "github.com/tandem-softphone/tandem/sipua"

// RingingCall is the call an "answer" shortcut takes: the incoming call
// that has rung the longest.
func RingingCall(calls []sipua.CallInfo) (sipua.CallInfo, bool) {
	for _, ci := range calls {
		if ci.Direction == sipua.Incoming && ci.State == sipua.CallRinging {
			return ci, true
		}
	}
	return sipua.CallInfo{}, false
}

// ActiveCall is the call the "hang up", "mute" and "hold" shortcuts act
// on: the connected call (the one the agent talks on), else the call the
// agent put on hold last, else an outgoing call being set up.
func ActiveCall(calls []sipua.CallInfo) (sipua.CallInfo, bool) {
	for _, ci := range calls {
		if ci.State == sipua.CallConnected {
			return ci, true
		}
	}
	for i := len(calls) - 1; i >= 0; i-- {
		if calls[i].State == sipua.CallHeld {
			return calls[i], true
		}
	}
	for _, ci := range calls {
		if ci.Direction == sipua.Outgoing && (ci.State == sipua.CallDialing || ci.State == sipua.CallEarly) {
			return ci, true
		}
	}
	return sipua.CallInfo{}, false
}
