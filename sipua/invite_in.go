package sipua

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/tandem-softphone/tandem/media/sdp"
)

// onInvite serves INVITE: a new call, a re-INVITE within a call, or an
// INVITE that replaces one of our calls.
func (e *Endpoint) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	key, _, ok := keyOfRequest(req)
	switch {
	case !ok || req.CSeq() == nil:
		e.respond(tx, e.response(req, sip.StatusBadRequest, "Bad Request"))
	case key.localTag != "":
		e.onReinvite(req, tx)
	case !e.running():
		e.respond(tx, e.response(req, sip.StatusServiceUnavailable, "Service Unavailable"))
	case req.GetHeader("Replaces") != nil:
		e.onReplacingInvite(req, tx)
	default:
		c := e.acceptInvite(req, tx)
		if c == nil {
			return
		}
		c.ring()
		c.waitSettled(tx)
	}
}

// accountFor is the account an incoming call arrived for: the one whose
// registrar sent it (by source address, or the sent-by of the top Via,
// since a registrar's TCP connections come from other ports), else the
// one whose address of record the To names, else the one whose user the
// Request-URI names, else the first.
func (e *Endpoint) accountFor(req *sip.Request) *registration {
	from := []string{req.Source()}
	if v := req.Via(); v != nil {
		port := v.Port
		if port == 0 {
			port = sip.DefaultPort(v.Transport)
		}
		from = append(from, net.JoinHostPort(v.Host, strconv.Itoa(port)))
	}
	for _, addr := range from {
		for _, r := range e.regs {
			if r.acct.Registrar == addr {
				return r
			}
		}
	}
	if to := req.To(); to != nil {
		for _, r := range e.regs {
			if r.acct.User == to.Address.User && strings.EqualFold(r.acct.Domain, to.Address.Host) {
				return r
			}
		}
	}
	for _, r := range e.regs {
		if r.acct.User == req.Recipient.User {
			return r
		}
	}
	return e.regs[0]
}

// acceptInvite checks a new INVITE and its offer, answers 100 Trying and
// returns the new call; or it refuses the INVITE and returns nil.
func (e *Endpoint) acceptInvite(req *sip.Request, tx sip.ServerTransaction) *Call {
	refuse := func(code int, reason string) *Call {
		e.respond(tx, e.response(req, code, reason))
		return nil
	}
	contact := contactURI(req)
	if contact == "" {
		return refuse(sip.StatusBadRequest, "Missing Contact")
	}
	if len(req.Body()) > 0 && !isSDP(req) {
		res := e.response(req, sip.StatusUnsupportedMediaType, "Unsupported Media Type")
		res.AppendHeader(sip.NewHeader("Accept", "application/sdp"))
		e.respond(tx, res)
		return nil
	}
	e.respond(tx, e.response(req, sip.StatusTrying, "Trying"))

	r := e.accountFor(req)
	c := e.newCall(r, Incoming)
	stream, err := e.openStream(c)
	if err != nil {
		c.log.Warn("incoming call", "error", err)
		return refuse(sip.StatusInternalServerError, "Media Unavailable")
	}
	c.stream = stream
	c.local = e.newLocal(stream, r.acct)
	if len(req.Body()) > 0 {
		answer, m, err := sdp.Answer(&c.local, req.Body())
		if err != nil {
			stream.Close()
			c.log.Info("offer refused", "error", err)
			e.respond(tx, e.notAcceptable(req, err))
			return nil
		}
		c.answerSDP, c.offerMedia = answer, m
	}
	transport := strings.ToLower(req.Transport())
	from, to := req.From(), req.To()
	c.dlg = DialogState{
		CallID:       string(*req.CallID()),
		LocalTag:     sip.GenerateTagN(16),
		RemoteTag:    tag(from.Params),
		LocalURI:     to.Address.String(),
		LocalName:    to.DisplayName,
		RemoteURI:    from.Address.String(),
		RemoteName:   from.DisplayName,
		RemoteCSeq:   req.CSeq().SeqNo,
		RemoteTarget: contact,
		LocalContact: uriString(e.contactOn(r.acct.User, transport)),
		Transport:    transport,
	}
	c.dlg.setRouteSet(req, false)
	c.srvTx, c.inviteReq = tx, req
	c.state = CallRinging // reported by ring, unless the call is answered at once
	e.addCall(c)
	if !tx.OnCancel(func(*sip.Request) {
		// Runs inside sipgo's transaction lock: act elsewhere.
		go c.cancelledByCaller()
	}) {
		if err := tx.Err(); !errors.Is(err, sip.ErrTransactionCanceled) {
			c.finish(EndError, 0, fmt.Sprintf("INVITE transaction: %v", err))
			return nil
		}
		c.finish(EndCancelled, sip.StatusRequestTerminated, "cancelled by the caller")
		return nil
	}
	c.log.Info("incoming call", "from", c.dlg.RemoteURI, "to", c.dlg.LocalURI)
	return c
}

// notAcceptable is the 488 for an offer we refused, with a Warning that
// says why (RFC 3261 section 20.43); a failure of ours is a 500.
func (e *Endpoint) notAcceptable(req *sip.Request, err error) *sip.Response {
	var na *sdp.NotAcceptableError
	if !errors.As(err, &na) {
		return e.response(req, sip.StatusInternalServerError, "Media Failure")
	}
	res := e.response(req, sip.StatusNotAcceptableHere, "Not Acceptable Here")
	text := strings.ReplaceAll(na.Error(), `"`, `'`)
	res.AppendHeader(sip.NewHeader("Warning", fmt.Sprintf("%d %s %q", na.Warn, e.opts.LocalIP, text)))
	return res
}

// ring answers 180 Ringing and tells the application.
func (c *Call) ring() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state != CallRinging {
		return // cancelled already
	}
	c.ep.respond(c.srvTx, c.responseLocked(c.inviteReq, sip.StatusRinging, "Ringing", nil))
	c.log.Info("call state", "state", c.state)
	c.emitLocked()
}

// waitSettled keeps the INVITE's handler, and so its transaction, alive
// until the call has its final answer.
func (c *Call) waitSettled(tx sip.ServerTransaction) {
	select {
	case <-c.settled:
	case <-tx.Done():
		c.mu.Lock()
		pending := c.state == CallRinging
		c.mu.Unlock()
		if pending {
			c.finish(EndError, 0, fmt.Sprintf("INVITE transaction: %v", tx.Err()))
		}
	}
}

// cancelledByCaller ends a call whose caller sent CANCEL; sipgo has
// answered it and the INVITE (487).
func (c *Call) cancelledByCaller() {
	c.mu.Lock()
	pending := c.state == CallRinging
	c.mu.Unlock()
	if pending {
		c.finish(EndCancelled, sip.StatusRequestTerminated, "cancelled by the caller")
	}
}

// responseLocked is a response of ours within the call's dialog: our tag,
// Contact for a dialog-creating answer, and the body as SDP.
func (c *Call) responseLocked(req *sip.Request, code int, reason string, body []byte) *sip.Response {
	res := c.ep.response(req, code, reason)
	if to := res.To(); to != nil {
		to.Params.Add("tag", c.dlg.LocalTag)
	}
	if code > 100 && code < 300 && (req.IsInvite() || req.Method == sip.SUBSCRIBE || req.Method == sip.REFER || req.Method == sip.UPDATE) {
		if u, err := parseURI(c.dlg.LocalContact); err == nil {
			res.AppendHeader(&sip.ContactHeader{Address: u})
		}
		res.AppendHeader(sip.NewHeader("Supported", strings.Join(supported, ", ")))
	}
	if body != nil {
		setSDP(res, body)
	}
	return res
}

// Answer accepts a ringing incoming call: any other call that talks is
// put on hold first (call waiting), then the call is answered with our
// SDP and its media starts.
func (c *Call) Answer() error {
	c.mu.Lock()
	if c.dir != Incoming || c.state != CallRinging || c.answering {
		c.mu.Unlock()
		return ErrCallState
	}
	c.answering = true
	c.mu.Unlock()
	c.ep.holdOthers(c)
	return c.answer()
}

// answer sends the 2xx to the call's INVITE and starts its media.
func (c *Call) answer() error {
	c.mu.Lock()
	if c.state != CallRinging {
		c.mu.Unlock()
		return ErrCallState
	}
	body := c.answerSDP
	offered := body != nil
	if offered {
		if err := c.applyMediaLocked(c.offerMedia); err != nil {
			c.mu.Unlock()
			c.ep.respond(c.srvTx, c.ep.response(c.inviteReq, sip.StatusInternalServerError, "Media Failure"))
			c.finish(EndError, 0, fmt.Sprintf("media: %v", err))
			return err
		}
	} else {
		// No offer in the INVITE: ours goes in the 2xx, the answer comes
		// in the ACK.
		offer, err := sdp.Offer(&c.local)
		if err != nil {
			c.mu.Unlock()
			c.ep.respond(c.srvTx, c.ep.response(c.inviteReq, sip.StatusInternalServerError, "Media Failure"))
			c.finish(EndError, 0, fmt.Sprintf("offer: %v", err))
			return err
		}
		body = offer
	}
	res := c.responseLocked(c.inviteReq, sip.StatusOK, "OK", body)
	err := c.srvTx.Respond(res)
	if err == nil && errors.Is(c.srvTx.Err(), sip.ErrTransactionCanceled) {
		err = errors.New("cancelled by the caller")
	}
	if err != nil {
		c.mu.Unlock()
		c.finish(EndCancelled, sip.StatusRequestTerminated, err.Error())
		return fmt.Errorf("sipua: answer: %w", err)
	}
	w := c.awaitAckLocked(c.srvTx, res, !offered)
	c.answered = c.ep.clock.Now()
	c.setStateLocked(CallConnected)
	c.mu.Unlock()
	c.settle()
	if offered {
		c.ep.takeAudio(c)
	}
	c.ep.goCall(func() { c.retransmit(w) })
	return nil
}

// Reject refuses a ringing incoming call with code (4xx-6xx; 0 means 486
// Busy Here).
func (c *Call) Reject(code int) error {
	if code == 0 {
		code = sip.StatusBusyHere
	}
	if code < 400 || code > 699 {
		return fmt.Errorf("sipua: reject with %d: want a 4xx, 5xx or 6xx status", code)
	}
	c.mu.Lock()
	if c.dir != Incoming || c.state != CallRinging || c.answering {
		c.mu.Unlock()
		return ErrCallState
	}
	reason := reasonPhrase(code)
	c.ep.respond(c.srvTx, c.responseLocked(c.inviteReq, code, reason, nil))
	c.mu.Unlock()
	c.finish(EndRejected, code, reason)
	return nil
}

// reasonPhrase is the usual text of the statuses we send.
func reasonPhrase(code int) string {
	switch code {
	case sip.StatusBusyHere:
		return "Busy Here"
	case sip.StatusGlobalDecline:
		return "Decline"
	case sip.StatusTemporarilyUnavailable:
		return "Temporarily Unavailable"
	case sip.StatusGlobalBusyEverywhere:
		return "Busy Everywhere"
	case sip.StatusNotFound:
		return "Not Found"
	case sip.StatusRequestTerminated:
		return "Request Terminated"
	}
	return "Rejected"
}

// ackWait is a 2xx we sent to an INVITE that waits for its ACK.
type ackWait struct {
	tx           sip.ServerTransaction
	res          *sip.Response
	cseq         uint32
	reliable     bool
	expectAnswer bool // the 2xx held our offer: the ACK holds the answer
	acked        chan struct{}
}

// awaitAckLocked records that res waits for its ACK; an earlier 2xx that
// still waits counts as acknowledged.
func (c *Call) awaitAckLocked(tx sip.ServerTransaction, res *sip.Response, expectAnswer bool) *ackWait {
	if c.ackWait != nil {
		close(c.ackWait.acked)
	}
	w := &ackWait{
		tx:           tx,
		res:          res,
		cseq:         res.CSeq().SeqNo,
		reliable:     sip.IsReliable(res.Transport()),
		expectAnswer: expectAnswer,
		acked:        make(chan struct{}),
	}
	c.ackWait = w
	return w
}

// retransmit sends the 2xx again over UDP until its ACK comes (RFC 3261
// section 13.3.1.4); without an ACK in 64*T1 the call is ended.
func (c *Call) retransmit(w *ackWait) {
	interval := sip.T1
	timer := time.NewTimer(interval)
	defer timer.Stop()
	deadline := time.NewTimer(64 * sip.T1)
	defer deadline.Stop()
	for {
		select {
		case <-w.acked:
			return
		case <-c.done:
			return
		case <-deadline.C:
			c.mu.Lock()
			lost := c.ackWait == w
			c.mu.Unlock()
			if lost {
				c.log.Warn("no ACK for our 2xx")
				c.bye(EndTimeout, 0, "no ACK from the peer")
			}
			return
		case <-timer.C:
			if !w.reliable {
				if err := w.tx.Respond(w.res); err != nil {
					c.log.Debug("retransmit 2xx", "error", err)
				}
			}
			interval = min(2*interval, sip.T2)
			timer.Reset(interval)
		}
	}
}

// onAck takes the ACK of a 2xx we sent.
func (e *Endpoint) onAck(req *sip.Request, _ sip.ServerTransaction) {
	if c := e.dialogCall(req); c != nil {
		c.acked(req)
	}
}

func (c *Call) acked(req *sip.Request) {
	c.mu.Lock()
	w := c.ackWait
	if w == nil || req.CSeq() == nil || req.CSeq().SeqNo != w.cseq {
		c.mu.Unlock()
		return
	}
	c.ackWait = nil
	close(w.acked)
	if !w.expectAnswer {
		c.mu.Unlock()
		return
	}
	var err error
	if len(req.Body()) == 0 {
		err = errors.New("ACK without the answer to our offer")
	} else {
		var m sdp.Media
		if m, err = sdp.ParseAnswer(&c.local, req.Body()); err == nil {
			err = c.applyMediaLocked(m)
		}
	}
	talks := c.state.established() && !c.localHold
	c.mu.Unlock()
	if err != nil {
		c.log.Info("answer in ACK refused", "error", err)
		c.ep.goCall(func() { c.bye(EndMediaRefused, 0, err.Error()) })
		return
	}
	if talks {
		c.ep.takeAudio(c)
	}
}
