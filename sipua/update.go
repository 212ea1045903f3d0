package sipua

import "github.com/emiago/sipgo/sip"

// onUpdate serves an UPDATE within a connected call (RFC 3311). Without a
// body it refreshes the session (and the peer's target); with SDP it is
// an offer, answered in the 200 at once, as that of a re-INVITE would be:
// the peer holds or resumes, or moves its media. An offer while one of
// ours is outstanding gets 491 (RFC 3311 section 5.2). UPDATE of an early
// dialog is not served: 481, as for any request outside a connected call.
func (e *Endpoint) onUpdate(req *sip.Request, tx sip.ServerTransaction) {
	c := e.lockDialogCall(req, tx)
	if c == nil {
		return
	}
	offered := len(req.Body()) > 0
	switch {
	case offered && !isSDP(req):
		res := c.notSDPLocked(req)
		c.mu.Unlock()
		e.respond(tx, res)
		return
	case offered && (c.reinviting || c.ackWait != nil):
		res := c.responseLocked(req, sip.StatusRequestPending, "Request Pending", nil)
		c.mu.Unlock()
		e.respond(tx, res)
		return
	}
	var body []byte
	changed := false
	if offered {
		var err error
		if body, changed, err = c.answerOfferLocked(req); err != nil {
			c.mu.Unlock()
			c.log.Info("UPDATE offer refused", "error", err)
			e.respond(tx, e.notAcceptable(req, err))
			return
		}
	}
	if u := contactURI(req); u != "" {
		c.dlg.RemoteTarget = u
	}
	res := c.responseLocked(req, sip.StatusOK, "OK", body)
	c.holdChangedLocked(changed)
	c.mu.Unlock()
	e.respond(tx, res)
}
