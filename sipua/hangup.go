package sipua

import (
	"context"
	"sync"

	"github.com/emiago/sipgo/sip"
)

// Hangup ends the call in whatever state it is: BYE when connected,
// CANCEL while dialing or ringing at the far end, 486 Busy Here for a
// call ringing here. It returns at once; the end comes as a CallEvent
// (and Done is closed).
func (c *Call) Hangup() error {
	c.mu.Lock()
	switch c.state {
	case CallRinging:
		c.mu.Unlock()
		err := c.Reject(0)
		if err == ErrCallState {
			return nil // answered or cancelled meanwhile
		}
		return err
	case CallDialing, CallEarly:
		if !c.cancelWanted {
			c.cancelWanted = true
			close(c.cancelCh)
			c.setStateLocked(CallEnding)
		}
		c.mu.Unlock()
		return nil
	case CallConnected, CallHeld:
		c.mu.Unlock()
		c.ep.goCall(func() { c.bye(EndLocalHangup, 0, "hung up") })
		return nil
	}
	c.mu.Unlock()
	return nil
}

// bye ends a call whose dialog exists: BYE, then the end is reported.
func (c *Call) bye(reason EndReason, code int, text string) {
	c.mu.Lock()
	if c.state == CallEnded || (c.state == CallEnding && !c.cancelWanted) {
		c.mu.Unlock()
		return
	}
	c.setStateLocked(CallEnding)
	c.mu.Unlock()
	c.ep.releaseAudio(c)
	res, err := c.request(sip.BYE, nil)
	switch {
	case err != nil:
		c.log.Info("BYE", "error", err)
	case !res.IsSuccess():
		c.log.Info("BYE refused", "code", res.StatusCode, "reason", res.Reason)
	}
	c.finish(reason, code, text)
}

// onBye ends the call the peer hangs up.
func (e *Endpoint) onBye(req *sip.Request, tx sip.ServerTransaction) {
	c := e.dialogCall(req)
	if c == nil {
		e.respond(tx, e.response(req, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist"))
		return
	}
	c.mu.Lock()
	if c.state == CallEnding {
		// Both sides hang up at once: ours is on its way.
		c.mu.Unlock()
		e.respond(tx, e.response(req, sip.StatusOK, "OK"))
		return
	}
	if res := c.checkInDialogLocked(req); res != nil {
		c.mu.Unlock()
		e.respond(tx, res)
		return
	}
	reason, text := EndRemoteHangup, "hung up by the peer"
	if c.transferredAway || c.transfer == TransferSucceeded {
		reason, text = EndTransferred, "transferred"
	}
	c.mu.Unlock()
	e.respond(tx, e.response(req, sip.StatusOK, "OK"))
	c.finish(reason, 0, text)
}

// hangupAll ends every call for Close: ringing calls are refused with 480,
// the others hung up; it waits for them until ctx ends, then drops what
// is left.
func (e *Endpoint) hangupAll(ctx context.Context) {
	calls := e.Calls()
	var wg sync.WaitGroup
	for _, c := range calls {
		wg.Go(func() {
			c.mu.Lock()
			ringing := c.state == CallRinging && !c.answering
			c.mu.Unlock()
			if ringing {
				if c.Reject(sip.StatusTemporarilyUnavailable) == nil {
					return
				}
			}
			if err := c.Hangup(); err != nil {
				c.log.Debug("hang up at close", "error", err)
			}
			select {
			case <-c.done:
			case <-ctx.Done():
				c.finish(EndError, 0, "endpoint closed")
			}
		})
	}
	wg.Wait()
}
