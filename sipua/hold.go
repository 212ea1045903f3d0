package sipua

import (
	"fmt"

	"github.com/emiago/sipgo/sip"

	"github.com/tandem-softphone/tandem/media/sdp"
)

// Hold puts the peer on hold: a re-INVITE offers sendonly, our media stops
// and the call leaves the audio devices. It returns once the peer has
// answered.
func (c *Call) Hold() error { return c.setHold(true) }

// Resume takes the call off hold (re-INVITE with sendrecv) and gives it
// the audio devices; any other call that talks is put on hold first.
func (c *Call) Resume() error {
	c.ep.holdOthers(c)
	return c.setHold(false)
}

func (c *Call) setHold(hold bool) error {
	c.mu.Lock()
	switch {
	case !c.state.established():
		c.mu.Unlock()
		return ErrCallState
	case c.localHold == hold:
		c.mu.Unlock()
		return nil
	case c.reinviting:
		c.mu.Unlock()
		return ErrBusy
	}
	c.reinviting = true
	prev := c.local.Direction
	if hold {
		c.local.Direction = sdp.SendOnly
	} else {
		c.local.Direction = sdp.SendRecv
	}
	offer, err := sdp.Offer(&c.local)
	c.mu.Unlock()
	hadAudio := c.ep.talking() == c
	if err == nil {
		if hold {
			c.ep.releaseAudio(c)
		}
		err = c.reinvite(offer, hold)
	}

	c.mu.Lock()
	c.reinviting = false
	if err != nil {
		c.local.Direction = prev
	}
	talks := c.state.established() && !c.localHold && (!hold || hadAudio)
	c.mu.Unlock()
	if talks {
		c.ep.takeAudio(c)
	}
	return err
}

// reinvite sends a re-INVITE with offer and applies the answer.
func (c *Call) reinvite(offer []byte, hold bool) error {
	res, err := c.request(sip.INVITE, func(req *sip.Request) { setSDP(req, offer) })
	if err != nil {
		// No answer ends the dialog as a 408 would (RFC 3261 12.2.1.2).
		c.bye(EndTimeout, 0, fmt.Sprintf("re-INVITE: %v", err))
		return fmt.Errorf("sipua: re-INVITE: %w", err)
	}
	switch {
	case res.StatusCode == sip.StatusRequestPending:
		return ErrGlare
	case res.StatusCode == sip.StatusCallTransactionDoesNotExists || res.StatusCode == sip.StatusRequestTimeout:
		// The peer no longer knows the dialog (RFC 3261 12.2.1.2).
		c.finish(endReasonFor(res.StatusCode), res.StatusCode, res.Reason)
		return fmt.Errorf("sipua: re-INVITE: %d %s", res.StatusCode, res.Reason)
	case !res.IsSuccess():
		return fmt.Errorf("sipua: re-INVITE: %d %s", res.StatusCode, res.Reason)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state == CallEnded {
		return ErrCallState
	}
	m, err := sdp.ParseAnswer(&c.local, res.Body())
	if err == nil {
		err = c.applyMediaLocked(m)
	}
	if err != nil {
		return fmt.Errorf("sipua: re-INVITE answer: %w", err)
	}
	if u := contactURI(res); u != "" {
		c.dlg.RemoteTarget = u
	}
	c.localHold = hold
	c.holdChangedLocked(true)
	return nil
}

// onReinvite serves an INVITE within a call: the peer holds or resumes,
// moves its media, or refreshes the session.
func (e *Endpoint) onReinvite(req *sip.Request, tx sip.ServerTransaction) {
	c := e.lockDialogCall(req, tx)
	if c == nil {
		return
	}
	if c.reinviting {
		c.mu.Unlock()
		e.respond(tx, c.responseLocked(req, sip.StatusRequestPending, "Request Pending", nil))
		return
	}
	if len(req.Body()) > 0 && !isSDP(req) {
		res := c.responseLocked(req, sip.StatusUnsupportedMediaType, "Unsupported Media Type", nil)
		res.AppendHeader(sip.NewHeader("Accept", "application/sdp"))
		c.mu.Unlock()
		e.respond(tx, res)
		return
	}

	var body []byte
	changed := false
	offered := len(req.Body()) > 0
	if offered {
		answer, m, err := sdp.Answer(&c.local, req.Body())
		if err == nil {
			err = c.applyMediaLocked(m)
		}
		if err != nil {
			c.mu.Unlock()
			c.log.Info("re-INVITE offer refused", "error", err)
			e.respond(tx, e.notAcceptable(req, err))
			return
		}
		// A peer that stops sending to us, or asks for nothing, holds us.
		d, _ := sdp.Parse(req.Body())
		was := c.remoteHold
		c.remoteHold = d.OnHold() || d.Direction == sdp.SendOnly || d.Direction == sdp.Inactive
		body = answer
		changed = was != c.remoteHold
	} else {
		offer, err := sdp.Offer(&c.local)
		if err != nil {
			c.mu.Unlock()
			e.respond(tx, e.response(req, sip.StatusInternalServerError, "Media Failure"))
			return
		}
		body = offer
	}
	if u := contactURI(req); u != "" {
		c.dlg.RemoteTarget = u
	}
	res := c.responseLocked(req, sip.StatusOK, "OK", body)
	w := c.awaitAckLocked(tx, res, !offered)
	c.holdChangedLocked(changed)
	c.mu.Unlock()
	e.respond(tx, res)
	e.goCall(func() { c.retransmit(w) })
}

// holdChangedLocked reports a change of the hold flags: the state moves
// between Connected and Held, or the event tells which side holds.
func (c *Call) holdChangedLocked(changed bool) {
	if s := c.holdStateLocked(); s != c.state {
		c.setStateLocked(s)
		return
	}
	if changed {
		c.emitLocked()
	}
}

// checkInDialogLocked checks an in-dialog request against the call: the
// call must be established and the CSeq must rise (RFC 3261 section
// 12.2.2). It returns the refusal, or nil and records the CSeq.
func (c *Call) checkInDialogLocked(req *sip.Request) *sip.Response {
	if !c.state.established() {
		return c.ep.response(req, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist")
	}
	seq := req.CSeq().SeqNo
	if c.dlg.RemoteCSeq != 0 && seq <= c.dlg.RemoteCSeq {
		return c.ep.response(req, sip.StatusInternalServerError, "CSeq Out of Order")
	}
	c.dlg.RemoteCSeq = seq
	return nil
}
