package sipua

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/tandem-softphone/tandem/media/sdp"
)

// Hold puts the peer on hold: a re-INVITE offers sendonly, our media stops
// and the call leaves the audio devices. It returns once the peer has
// answered. A re-INVITE that meets the peer's (491) is sent again after
// the random wait of RFC 3261 section 14.1 (up to 4 s), twice at most.
func (c *Call) Hold() error { return c.setHold(true) }

// Resume takes the call off hold (re-INVITE with sendrecv) and gives it
// the audio devices; any other call that talks is put on hold first.
func (c *Call) Resume() error {
	c.ep.holdOthers(c)
	return c.setHold(false)
}

// maxGlareRetries bounds the re-INVITEs sent again after 491.
const maxGlareRetries = 2

func (c *Call) setHold(hold bool) error {
	hadAudio := c.ep.talking() == c
	var err error
	for attempt := 0; ; attempt++ {
		err = c.tryHold(hold)
		if !errors.Is(err, ErrGlare) || attempt == maxGlareRetries {
			break
		}
		// RFC 3261 section 14.1: both sides sent a re-INVITE; each tries
		// again after a random wait, the owner of the Call-ID (the caller)
		// the longer one, so that the other's goes first. Meanwhile the
		// peer's re-INVITE is served as usual.
		d := glareDelay(c.dir == Outgoing)
		c.log.Info("re-INVITE met the peer's (491); trying again", "in", d)
		if !c.ep.sleep(d) {
			break
		}
	}
	c.mu.Lock()
	talks := c.state.established() && !c.localHold && (!hold || hadAudio)
	c.mu.Unlock()
	if talks {
		c.ep.takeAudio(c)
	}
	return err
}

// tryHold sends one re-INVITE that holds or resumes the call.
func (c *Call) tryHold(hold bool) error {
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
	c.mu.Unlock()
	return err
}

// glareDelay is how long to wait before sending a re-INVITE again after
// 491 (RFC 3261 section 14.1): 2.1 to 4 s for the owner of the Call-ID,
// up to 2 s for the other side, in units of 10 ms.
func glareDelay(owner bool) time.Duration {
	const unit = 10 * time.Millisecond
	if owner {
		return 210*unit + time.Duration(rand.IntN(191))*unit
	}
	return time.Duration(rand.IntN(201)) * unit
}

// sleep waits d on the endpoint's clock; it reports false when the
// endpoint closes first.
func (e *Endpoint) sleep(d time.Duration) bool {
	fired := make(chan struct{})
	t := e.clock.AfterFunc(d, func() { close(fired) })
	select {
	case <-fired:
		return true
	case <-e.closing:
		t.Stop()
		return false
	}
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
		res := c.notSDPLocked(req)
		c.mu.Unlock()
		e.respond(tx, res)
		return
	}

	var body []byte
	changed := false
	offered := len(req.Body()) > 0
	if offered {
		var err error
		if body, changed, err = c.answerOfferLocked(req); err != nil {
			c.mu.Unlock()
			c.log.Info("re-INVITE offer refused", "error", err)
			e.respond(tx, e.notAcceptable(req, err))
			return
		}
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

// answerOfferLocked answers the SDP offer of an in-dialog request and
// applies it; changed tells whether the peer's hold changed.
func (c *Call) answerOfferLocked(req *sip.Request) (answer []byte, changed bool, err error) {
	answer, m, err := sdp.Answer(&c.local, req.Body())
	if err == nil {
		err = c.applyMediaLocked(m)
	}
	if err != nil {
		return nil, false, err
	}
	// A peer that stops sending to us, or asks for nothing, holds us.
	d, _ := sdp.Parse(req.Body())
	was := c.remoteHold
	c.remoteHold = d.OnHold() || d.Direction == sdp.SendOnly || d.Direction == sdp.Inactive
	return answer, was != c.remoteHold, nil
}

// notSDPLocked refuses an in-dialog request whose body is not SDP.
func (c *Call) notSDPLocked(req *sip.Request) *sip.Response {
	res := c.responseLocked(req, sip.StatusUnsupportedMediaType, "Unsupported Media Type", nil)
	res.AppendHeader(sip.NewHeader("Accept", "application/sdp"))
	return res
}
