package sipua

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/google/uuid"

	"github.com/tandem-softphone/tandem/media/sdp"
)

// DialOptions shape an outgoing call.
type DialOptions struct {
	// Site is the account to call through; default the first registered
	// account, in account order.
	Site string
}

// dialExtras are what a call placed for a REFER adds to its INVITE.
type dialExtras struct {
	replaces        string // Replaces header value (attended transfer)
	referredBy      string // Referred-By header value
	transferredFrom string // the call whose peer asked for this one
	onProgress      func(code int, reason string)
}

// Dial calls target: a SIP URI ("sip:2001@site1.example"), user@host, or
// a bare number, which is called at the account's domain. The INVITE goes
// through the account's registrar as outbound proxy (or straight to the
// target's host with Account.DirectCalls). Dial returns at once with the
// call in CallDialing; its progress comes as CallEvents.
func (e *Endpoint) Dial(target string, opts DialOptions) (*Call, error) {
	if !e.running() {
		return nil, ErrNotStarted
	}
	r, err := e.dialAccount(opts.Site)
	if err != nil {
		return nil, err
	}
	uri, err := targetURI(target, r.acct)
	if err != nil {
		return nil, err
	}
	return e.dial(r, uri, dialExtras{})
}

// dialAccount picks the account of an outgoing call.
func (e *Endpoint) dialAccount(site string) (*registration, error) {
	if site != "" {
		return e.site(site)
	}
	for _, r := range e.regs {
		if r.snapshot().State == RegistrationRegistered {
			return r, nil
		}
	}
	return nil, ErrNotRegistered
}

// targetURI reads what the user dialled.
func targetURI(target string, a Account) (sip.Uri, error) {
	target = strings.TrimSpace(target)
	var u sip.Uri
	switch {
	case target == "":
		return u, errors.New("sipua: empty call target")
	case strings.HasPrefix(strings.ToLower(target), "sip:"), strings.HasPrefix(strings.ToLower(target), "sips:"):
	case strings.Contains(target, "@"):
		target = "sip:" + target
	default:
		target = "sip:" + target + "@" + a.Domain
	}
	if err := sip.ParseUri(target, &u); err != nil {
		return u, fmt.Errorf("sipua: call target %q: %w", target, err)
	}
	if u.Host == "" {
		return u, fmt.Errorf("sipua: call target %q: no host", target)
	}
	return u, nil
}

// dial sets up an outgoing call to uri and sends its INVITE.
func (e *Endpoint) dial(r *registration, uri sip.Uri, x dialExtras) (*Call, error) {
	c := e.newCall(r, Outgoing)
	stream, err := e.openStream(c)
	if err != nil {
		return nil, err
	}
	c.stream = stream
	c.local = e.newLocal(stream, r.acct)
	offer, err := sdp.Offer(&c.local)
	if err != nil {
		stream.Close()
		return nil, fmt.Errorf("sipua: offer: %w", err)
	}
	to := uri
	to.Headers = nil
	to.UriParams = nil
	c.dlg = DialogState{
		CallID:       uuid.NewString(),
		LocalTag:     sip.GenerateTagN(16),
		LocalURI:     uriString(r.aor()),
		RemoteURI:    to.String(),
		RemoteTarget: uri.String(),
		LocalContact: uriString(e.contactOn(r.acct.User, r.acct.Transport)),
		Transport:    r.acct.Transport,
	}
	c.state = CallDialing
	c.cancelCh = make(chan struct{})
	c.transferredFrom, c.referredBy, c.onProgress = x.transferredFrom, x.referredBy, x.onProgress
	e.addCall(c)
	c.mu.Lock()
	c.log.Info("dialing", "to", uri.String())
	c.emitLocked()
	c.mu.Unlock()
	if !e.goCall(func() { c.runInvite(offer, x) }) {
		c.finish(EndError, 0, "endpoint closed")
		return nil, ErrNotStarted
	}
	return c, nil
}

// runInvite sends the INVITE, answers a digest challenge, and follows the
// answers until the call is connected or has failed.
func (c *Call) runInvite(offer []byte, x dialExtras) {
	var auth *challenge
	for attempt := 0; ; attempt++ {
		tx, req, err := c.sendInvite(offer, x, auth)
		if err != nil {
			c.finish(EndError, 0, fmt.Sprintf("send INVITE: %v", err))
			return
		}
		res := c.awaitInvite(tx, req)
		if res == nil {
			return
		}
		if res.StatusCode == sip.StatusUnauthorized || res.StatusCode == sip.StatusProxyAuthRequired {
			ch, err := pickChallenge(res)
			c.mu.Lock()
			cancelled := c.cancelWanted
			c.mu.Unlock()
			switch {
			case cancelled:
				c.finish(EndCancelled, 0, "cancelled")
			case err != nil, attempt >= 2, attempt > 0 && !ch.Stale:
				c.finish(EndFailed, res.StatusCode, "authentication failed: "+res.Reason)
			default:
				auth = &ch
				continue
			}
			return
		}
		c.final(tx, req, res)
		return
	}
}

// sendInvite sends one INVITE of the call (a new CSeq each time).
func (c *Call) sendInvite(offer []byte, x dialExtras, auth *challenge) (sip.ClientTransaction, *sip.Request, error) {
	c.mu.Lock()
	req, dest, transport, err := c.dlg.newRequest(sip.INVITE, c.dlg.nextCSeq())
	c.mu.Unlock()
	if err != nil {
		return nil, nil, err
	}
	if !c.reg.acct.DirectCalls {
		dest, transport = c.reg.acct.Registrar, c.reg.acct.Transport
	}
	c.ep.addHeaders(req, true)
	if x.replaces != "" {
		req.AppendHeader(sip.NewHeader("Replaces", x.replaces))
	}
	if x.referredBy != "" {
		req.AppendHeader(sip.NewHeader("Referred-By", x.referredBy))
	}
	setSDP(req, offer)
	if auth != nil {
		if err := authorize(req, *auth, c.reg.acct.AuthUser, c.reg.acct.Password); err != nil {
			return nil, nil, err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.ep.opts.RequestTimeout)
	defer cancel()
	if err := c.ep.address(ctx, req, c.reg, dest, transport); err != nil {
		return nil, nil, err
	}
	// The transaction outlives this function: it ends with its final
	// answer or its own timers.
	tx, err := c.ep.client.TransactionRequest(context.Background(), req)
	if err != nil {
		return nil, nil, err
	}
	return tx, req, nil
}

// awaitInvite follows the INVITE's provisional answers and sends CANCEL
// when asked to; it returns the final answer, or nil when the call ended
// without one.
func (c *Call) awaitInvite(tx sip.ClientTransaction, req *sip.Request) *sip.Response {
	c.mu.Lock()
	cancelCh, cancelPending := c.cancelCh, c.cancelWanted
	provisional := c.provisional
	c.mu.Unlock()
	if cancelPending {
		cancelCh = nil
	}
	var giveUp <-chan time.Time // after our CANCEL, the answer may never come
	cancelNow := func() {
		cancelPending = false
		c.ep.goCall(func() { c.sendCancel(req) })
		giveUp = time.After(c.ep.opts.RequestTimeout)
	}
	if cancelPending {
		giveUp = time.After(c.ep.opts.RequestTimeout)
		if provisional {
			cancelNow()
		}
	}
	for {
		select {
		case res := <-tx.Responses():
			if !res.IsProvisional() {
				return res
			}
			c.onProvisional(res)
			if cancelPending {
				cancelNow()
			}
		case <-tx.Done():
			c.finish(EndTimeout, 0, fmt.Sprintf("no answer: %v", tx.Err()))
			return nil
		case <-cancelCh:
			cancelCh = nil
			c.mu.Lock()
			provisional = c.provisional
			c.mu.Unlock()
			// A CANCEL may go only once the callee has answered
			// provisionally (RFC 3261 section 9.1); the call ends anyway
			// if it does not.
			cancelPending = true
			giveUp = time.After(c.ep.opts.RequestTimeout)
			if provisional {
				cancelNow()
			}
		case <-giveUp:
			tx.Terminate()
			c.finish(EndCancelled, 0, "cancelled; the callee did not confirm")
			return nil
		case <-c.ep.abort:
			tx.Terminate()
			c.finish(EndError, 0, "endpoint closed")
			return nil
		}
	}
}

// onProvisional takes a 1xx: ringing, early dialog, early media.
func (c *Call) onProvisional(res *sip.Response) {
	c.mu.Lock()
	c.provisional = true
	if res.StatusCode == sip.StatusTrying || c.state == CallEnded {
		c.mu.Unlock()
		return
	}
	if t := toTag(res); t != "" && c.dlg.RemoteTag == "" {
		// An early dialog: where in-dialog requests would go.
		c.dlg.RemoteTag = t
		if u := contactURI(res); u != "" {
			c.dlg.RemoteTarget = u
		}
		c.dlg.setRouteSet(res, true)
	}
	early := false
	if body := res.Body(); len(body) > 0 && !c.mediaUp && isSDP(res) {
		// Early media (183 Session Progress with the answer).
		if m, err := sdp.ParseAnswer(&c.local, body); err != nil {
			c.log.Info("early media refused", "error", err)
		} else if err := c.applyMediaLocked(m); err != nil {
			c.log.Warn("early media", "error", err)
		} else {
			early = true
		}
	}
	if c.state == CallDialing {
		c.setStateLocked(CallEarly)
	}
	progress := c.onProgress
	c.mu.Unlock()
	if progress != nil {
		progress(res.StatusCode, res.Reason)
	}
	if early {
		c.ep.takeAudioIfFree(c)
	}
}

// final takes the INVITE's final answer.
func (c *Call) final(tx sip.ClientTransaction, req *sip.Request, res *sip.Response) {
	c.mu.Lock()
	progress := c.onProgress
	c.mu.Unlock()
	if progress != nil {
		progress(res.StatusCode, res.Reason)
	}
	if !res.IsSuccess() {
		c.mu.Lock()
		cancelled := c.cancelWanted
		c.mu.Unlock()
		if cancelled && res.StatusCode == sip.StatusRequestTerminated {
			c.finish(EndCancelled, res.StatusCode, "cancelled")
			return
		}
		c.finish(endReasonFor(res.StatusCode), res.StatusCode, res.Reason)
		return
	}

	c.mu.Lock()
	c.dlg.RemoteTag = toTag(res)
	if to := res.To(); to != nil {
		c.dlg.RemoteName = to.DisplayName
	}
	if u := contactURI(res); u != "" {
		c.dlg.RemoteTarget = u
	}
	c.dlg.setRouteSet(res, true)
	cseq := req.CSeq().SeqNo
	c.mu.Unlock()
	c.ackInvite(tx, cseq)

	c.mu.Lock()
	var fail string
	switch {
	case c.cancelWanted:
		fail = "cancelled"
	case len(res.Body()) > 0:
		m, err := sdp.ParseAnswer(&c.local, res.Body())
		if err == nil {
			err = c.applyMediaLocked(m)
		}
		if err != nil {
			fail = fmt.Sprintf("answer refused: %v", err)
		}
	case !c.mediaUp:
		fail = "answer without SDP"
	}
	if fail != "" {
		c.mu.Unlock()
		reason := EndMediaRefused
		if fail == "cancelled" {
			reason = EndCancelled
		}
		// The callee answered: the dialog exists and must be ended.
		c.bye(reason, 0, fail)
		return
	}
	c.answered = c.ep.clock.Now()
	c.setStateLocked(CallConnected)
	c.mu.Unlock()
	c.ep.takeAudio(c)
}

// ackInvite acknowledges the 2xx to our INVITE with CSeq cseq, and again
// for every retransmission of it.
func (c *Call) ackInvite(tx sip.ClientTransaction, cseq uint32) {
	c.mu.Lock()
	ack, dest, transport, err := c.dlg.newRequest(sip.ACK, cseq)
	c.mu.Unlock()
	if err != nil {
		c.log.Warn("ACK", "error", err)
		return
	}
	c.ep.addHeaders(ack, false)
	ctx, cancel := context.WithTimeout(context.Background(), c.ep.opts.RequestTimeout)
	defer cancel()
	if err := c.ep.address(ctx, ack, c.reg, dest, transport); err != nil {
		c.log.Warn("ACK", "error", err)
		return
	}
	send := func() {
		if err := c.ep.client.WriteRequest(ack); err != nil {
			c.log.Warn("send ACK", "error", err)
		}
	}
	send()
	tx.OnRetransmission(func(*sip.Response) { send() })
}

// sendCancel cancels our INVITE req.
func (c *Call) sendCancel(req *sip.Request) {
	cancel := sip.NewRequest(sip.CANCEL, req.Recipient)
	cancel.AppendHeader(req.Via().Clone())
	for _, h := range req.GetHeaders("Route") {
		cancel.AppendHeader(sip.HeaderClone(h))
	}
	for _, name := range []string{"From", "To", "Call-ID"} {
		cancel.AppendHeader(sip.HeaderClone(req.GetHeader(name)))
	}
	cancel.AppendHeader(&sip.CSeqHeader{SeqNo: req.CSeq().SeqNo, MethodName: sip.CANCEL})
	cancel.SetDestination(req.Destination())
	cancel.SetTransport(req.Transport())
	cancel.Laddr = req.Laddr
	res, err := c.ep.do(context.Background(), cancel, c.ep.opts.RequestTimeout)
	switch {
	case err != nil:
		c.log.Info("CANCEL", "error", err)
	case !res.IsSuccess():
		c.log.Info("CANCEL refused", "code", res.StatusCode, "reason", res.Reason)
	}
}
