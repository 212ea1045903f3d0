package sipua

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/google/uuid"

	"github.com/tandem-softphone/tandem/media/rtpstream"
	"github.com/tandem-softphone/tandem/media/sdp"
)

// Errors of the call API.
var (
	// ErrCallState: the call is not in a state that allows the action
	// (answering a call that is not ringing, holding one that has ended…).
	ErrCallState = errors.New("sipua: not possible in the call's state")
	// ErrBusy: another renegotiation or transfer of the call is under way.
	ErrBusy = errors.New("sipua: the call is busy with another request")
	// ErrGlare: the peer sent a re-INVITE at the same time as ours (491),
	// again after the retries of RFC 3261 section 14.1; try again later.
	ErrGlare = errors.New("sipua: the peer renegotiated at the same time (491)")
	// ErrNotRegistered: no account is registered to call through.
	ErrNotRegistered = errors.New("sipua: no registered account")
	// ErrNotStarted: the endpoint is not running.
	ErrNotStarted = errors.New("sipua: endpoint not started")
)

// CallDirection says who placed a call.
type CallDirection int

// The two directions.
const (
	Outgoing CallDirection = iota + 1
	Incoming
)

func (d CallDirection) String() string {
	switch d {
	case Outgoing:
		return "outgoing"
	case Incoming:
		return "incoming"
	}
	return fmt.Sprintf("CallDirection(%d)", int(d))
}

// CallState is where a call stands.
type CallState int

const (
	// CallDialing: our INVITE is on its way; no ringing yet.
	CallDialing CallState = iota + 1
	// CallRinging: an incoming call waits for Answer or Reject.
	CallRinging
	// CallEarly: the called side rings (180) or plays early media (183).
	CallEarly
	// CallConnected: answered, media flows both ways.
	CallConnected
	// CallHeld: connected, and held by us (CallInfo.LocalHold), by the
	// peer (RemoteHold) or both.
	CallHeld
	// CallEnding: hanging up; CallEnded follows.
	CallEnding
	// CallEnded: over; CallInfo.EndReason, Code and Reason say why.
	CallEnded
)

func (s CallState) String() string {
	switch s {
	case CallDialing:
		return "dialing"
	case CallRinging:
		return "ringing"
	case CallEarly:
		return "early"
	case CallConnected:
		return "connected"
	case CallHeld:
		return "held"
	case CallEnding:
		return "ending"
	case CallEnded:
		return "ended"
	}
	return fmt.Sprintf("CallState(%d)", int(s))
}

// established reports whether the call's dialog is confirmed.
func (s CallState) established() bool { return s == CallConnected || s == CallHeld }

// EndReason is why a call ended.
type EndReason int

// The reasons. Code and Reason of CallInfo give the SIP status and text.
const (
	EndNone         EndReason = iota
	EndLocalHangup            // we hung up (BYE)
	EndRemoteHangup           // the peer hung up (BYE)
	EndCancelled              // the caller gave up before an answer: we (CANCEL) or the peer
	EndRejected               // we rejected the incoming call (Reject)
	EndBusy                   // the called side is busy: 486, 600
	EndDeclined               // the called side declined: 603
	EndNotFound               // no such user: 404, 604
	EndUnavailable            // not reachable now: 480, 408, 410
	EndFailed                 // any other failure response (Code)
	EndTimeout                // no answer at all from the network
	EndMediaRefused           // no media both sides accept: 488, 606, or an SDP we refused
	EndTransferred            // the call was transferred away (REFER) and the transfer succeeded
	EndReplaced               // another call took its place (INVITE with Replaces)
	EndError                  // a local failure; Reason says which
	EndStored                 // the call was stored (Store) to go on in another endpoint; no BYE was sent
)

func (r EndReason) String() string {
	switch r {
	case EndNone:
		return "none"
	case EndLocalHangup:
		return "local hangup"
	case EndRemoteHangup:
		return "remote hangup"
	case EndCancelled:
		return "cancelled"
	case EndRejected:
		return "rejected"
	case EndBusy:
		return "busy"
	case EndDeclined:
		return "declined"
	case EndNotFound:
		return "not found"
	case EndUnavailable:
		return "unavailable"
	case EndFailed:
		return "failed"
	case EndTimeout:
		return "timeout"
	case EndMediaRefused:
		return "media refused"
	case EndTransferred:
		return "transferred"
	case EndReplaced:
		return "replaced"
	case EndError:
		return "error"
	case EndStored:
		return "stored"
	}
	return fmt.Sprintf("EndReason(%d)", int(r))
}

// endReasonFor maps a failure response to an outgoing INVITE.
func endReasonFor(code int) EndReason {
	switch code {
	case sip.StatusBusyHere, sip.StatusGlobalBusyEverywhere:
		return EndBusy
	case sip.StatusGlobalDecline:
		return EndDeclined
	case sip.StatusNotFound, sip.StatusGlobalDoesNotExistAnywhere:
		return EndNotFound
	case sip.StatusTemporarilyUnavailable, sip.StatusRequestTimeout, sip.StatusGone:
		return EndUnavailable
	case sip.StatusNotAcceptableHere, sip.StatusGlobalNotAcceptable:
		return EndMediaRefused
	}
	return EndFailed
}

// TransferState is how our transfer (REFER) of a call is going.
type TransferState int

// The transfer states.
const (
	TransferNone      TransferState = iota
	TransferPending                 // the peer accepted the REFER and is calling the target
	TransferSucceeded               // the target answered: the call ends (EndTransferred)
	TransferFailed                  // refused, or the target did not answer; the call goes on
)

func (s TransferState) String() string {
	switch s {
	case TransferNone:
		return "none"
	case TransferPending:
		return "pending"
	case TransferSucceeded:
		return "succeeded"
	case TransferFailed:
		return "failed"
	}
	return fmt.Sprintf("TransferState(%d)", int(s))
}

// MediaInfo describes a call's audio once negotiated.
type MediaInfo struct {
	Codec     string        // e.g. "PCMU/8000 (pt 0)"
	Direction sdp.Direction // ours, as negotiated
	Remote    netip.AddrPort
	Secure    bool // SRTP
	Stats     rtpstream.Stats
}

// CallInfo is a call at a moment.
type CallInfo struct {
	ID        string
	Direction CallDirection
	Site      string // the account the call goes through
	LocalURI  string // our address
	PeerURI   string // the peer's address
	PeerName  string // the peer's display name, when given
	State     CallState

	LocalHold  bool // we hold the peer
	RemoteHold bool // the peer holds us
	Muted      bool

	// EndReason, Code and Reason say why the call ended (Code is the SIP
	// status when one ended it, else 0).
	EndReason EndReason
	Code      int
	Reason    string

	// Transfer is the progress of our transfer of this call, with the
	// status the transfer target last answered (TransferCode).
	Transfer     TransferState
	TransferCode int
	// TransferredFrom is the ID of the call whose peer asked us (REFER)
	// to place this one; ReferredBy is who asked.
	TransferredFrom string
	ReferredBy      string
	// Replaced is the ID of the call this one replaced (INVITE with
	// Replaces, the last step of an attended transfer).
	Replaced string

	Created  time.Time
	Answered time.Time // zero until connected
	Ended    time.Time // zero until ended

	HasMedia bool // Media is valid
	Media    MediaInfo
}

// Call is one call of the endpoint. Its methods are safe for concurrent
// use; what happens to it is reported as CallEvents.
type Call struct {
	ep   *Endpoint
	id   string
	dir  CallDirection
	reg  *registration
	log  *slog.Logger
	done chan struct{}

	mu         sync.Mutex
	state      CallState
	localHold  bool
	remoteHold bool
	muted      bool
	endReason  EndReason
	code       int
	reason     string
	created    time.Time
	answered   time.Time
	ended      time.Time

	dlg     DialogState
	local   sdp.Local
	stream  *rtpstream.Stream
	mediaUp bool // the stream was started

	// Outgoing: whether a provisional answer came, and the wish to cancel.
	provisional  bool
	cancelWanted bool
	cancelCh     chan struct{}

	// Incoming: the INVITE's server transaction until its final answer.
	srvTx      sip.ServerTransaction
	inviteReq  *sip.Request
	answerSDP  []byte    // our answer to the INVITE's offer; nil when it had none
	offerMedia sdp.Media // the media that answer negotiated
	settled    chan struct{}
	settleOnce sync.Once
	answering  bool

	reinviting bool     // our re-INVITE (hold, resume) is under way
	ackWait    *ackWait // a 2xx we sent waits for its ACK

	transfer     TransferState
	transferCode int
	referring    bool // our REFER waits for its answer
	// notifier owes the peer the NOTIFYs of the REFER it sent us, until
	// the final one.
	notifier *referNotifier
	// transferredAway: the call is the consultation leg of our attended
	// transfer, so the peer's BYE ends it as transferred.
	transferredAway bool
	transferredFrom string
	referredBy      string
	replaced        string
	// onProgress hears the statuses of a call placed for a REFER, to
	// report them to the transferor.
	onProgress func(code int, reason string)
}

func (e *Endpoint) newCall(r *registration, dir CallDirection) *Call {
	id := uuid.NewString()[:8]
	return &Call{
		ep:      e,
		id:      id,
		dir:     dir,
		reg:     r,
		log:     e.log.With("call", id, "site", r.acct.Site),
		done:    make(chan struct{}),
		created: e.clock.Now(),
		settled: make(chan struct{}),
	}
}

// ID identifies the call within its endpoint.
func (c *Call) ID() string { return c.id }

// Done is closed when the call has ended.
func (c *Call) Done() <-chan struct{} { return c.done }

// Info returns the call as it now is.
func (c *Call) Info() CallInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.infoLocked()
}

func (c *Call) infoLocked() CallInfo {
	info := CallInfo{
		ID:              c.id,
		Direction:       c.dir,
		Site:            c.reg.acct.Site,
		LocalURI:        c.dlg.LocalURI,
		PeerURI:         c.dlg.RemoteURI,
		PeerName:        c.dlg.RemoteName,
		State:           c.state,
		LocalHold:       c.localHold,
		RemoteHold:      c.remoteHold,
		Muted:           c.muted,
		EndReason:       c.endReason,
		Code:            c.code,
		Reason:          c.reason,
		Transfer:        c.transfer,
		TransferCode:    c.transferCode,
		TransferredFrom: c.transferredFrom,
		ReferredBy:      c.referredBy,
		Replaced:        c.replaced,
		Created:         c.created,
		Answered:        c.answered,
		Ended:           c.ended,
	}
	if c.mediaUp {
		m := c.stream.Media()
		info.HasMedia = true
		info.Media = MediaInfo{
			Codec:     m.Send.String(),
			Direction: m.Direction,
			Remote:    m.Remote,
			Secure:    m.Secure,
			Stats:     c.stream.Stats(),
		}
	}
	return info
}

// emitLocked reports the call as it now is; c.mu is held, which keeps the
// call's events in order.
func (c *Call) emitLocked() {
	c.ep.emit(CallEvent{c.infoLocked()})
}

// setStateLocked moves the call to s and reports it.
func (c *Call) setStateLocked(s CallState) {
	if c.state == s {
		return
	}
	c.state = s
	c.log.Info("call state", "state", s)
	c.emitLocked()
}

// holdStateLocked is Connected or Held, by the hold flags.
func (c *Call) holdStateLocked() CallState {
	if c.localHold || c.remoteHold {
		return CallHeld
	}
	return CallConnected
}

// finish ends the call: it reports the end, releases the media and
// forgets the call. Only the first call counts. c.mu must not be held.
func (c *Call) finish(reason EndReason, code int, text string) {
	c.mu.Lock()
	if c.state == CallEnded {
		c.mu.Unlock()
		return
	}
	c.endReason, c.code, c.reason = reason, code, text
	c.ended = c.ep.clock.Now()
	stream := c.stream
	c.log.Info("call ended", "reason", reason, "code", code, "text", text)
	c.setStateLocked(CallEnded)
	c.mu.Unlock()

	c.ep.releaseAudio(c)
	if stream != nil {
		if err := stream.Close(); err != nil {
			c.log.Debug("close media", "error", err)
		}
	}
	c.ep.forgetCall(c)
	c.settle()
	close(c.done)
}

// settle tells a waiting incoming INVITE handler that its transaction has
// its final answer (or needs none any more).
func (c *Call) settle() {
	c.settleOnce.Do(func() { close(c.settled) })
}

// Mute sends silence instead of the microphone; media keeps flowing, so
// that the peer and the NATs on the way keep seeing it.
func (c *Call) Mute(mute bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state == CallEnded || c.state == CallEnding {
		return ErrCallState
	}
	if c.muted == mute {
		return nil
	}
	c.muted = mute
	if c.stream != nil {
		c.stream.SetMute(mute)
	}
	c.emitLocked()
	return nil
}

// Calls returns the calls that have not ended, oldest first.
func (e *Endpoint) Calls() []*Call {
	e.callsMu.Lock()
	out := make([]*Call, 0, len(e.calls))
	for _, c := range e.calls {
		out = append(out, c)
	}
	e.callsMu.Unlock()
	slices.SortFunc(out, func(a, b *Call) int { return a.created.Compare(b.created) })
	return out
}

// Call returns the call with the given ID, if it has not ended.
func (e *Endpoint) Call(id string) (*Call, bool) {
	e.callsMu.Lock()
	defer e.callsMu.Unlock()
	c, ok := e.calls[id]
	return c, ok
}

// addCall makes c known by its ID and its dialog.
func (e *Endpoint) addCall(c *Call) {
	e.callsMu.Lock()
	defer e.callsMu.Unlock()
	e.calls[c.id] = c
	e.dialogs[dialogKey{callID: c.dlg.CallID, localTag: c.dlg.LocalTag}] = c
}

func (e *Endpoint) forgetCall(c *Call) {
	e.callsMu.Lock()
	defer e.callsMu.Unlock()
	delete(e.calls, c.id)
	k := dialogKey{callID: c.dlg.CallID, localTag: c.dlg.LocalTag}
	if e.dialogs[k] == c {
		delete(e.dialogs, k)
	}
}

// dialogCall finds the call of an incoming in-dialog request, checking
// the peer's tag too.
func (e *Endpoint) dialogCall(req *sip.Request) *Call {
	key, remoteTag, ok := keyOfRequest(req)
	if !ok || key.localTag == "" {
		return nil
	}
	e.callsMu.Lock()
	c := e.dialogs[key]
	e.callsMu.Unlock()
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dlg.RemoteTag != remoteTag {
		return nil
	}
	return c
}

// holdOthers puts every other call that we do not hold yet on hold: one
// call at a time talks (call waiting, resume).
func (e *Endpoint) holdOthers(c *Call) {
	for _, o := range e.Calls() {
		if o == c {
			continue
		}
		o.mu.Lock()
		active := o.state.established() && !o.localHold
		o.mu.Unlock()
		if active {
			if err := o.Hold(); err != nil {
				o.log.Warn("hold for another call", "error", err)
			}
		}
	}
}
