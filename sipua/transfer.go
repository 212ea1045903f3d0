package sipua

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/emiago/sipgo/sip"
)

// Transfer hands the call's peer over to target (blind transfer): a REFER
// asks the peer to call target. It returns once the peer accepted; the
// progress comes as CallEvents (CallInfo.Transfer), and the call ends
// (EndTransferred) when the target answers. On failure the call goes on.
func (c *Call) Transfer(target string) error {
	uri, err := targetURI(target, c.reg.acct)
	if err != nil {
		return err
	}
	return c.refer(uri, false)
}

// AttendedTransfer connects the call's peer with the peer of to, another
// call of ours (the consultation call), and drops us from both: a REFER
// whose Refer-To carries Replaces asks our peer to call to's peer in place
// of us. Both calls end as EndTransferred when it succeeds.
func (c *Call) AttendedTransfer(to *Call) error {
	if to == c {
		return errors.New("sipua: attended transfer to the same call")
	}
	to.mu.Lock()
	if !to.state.established() {
		to.mu.Unlock()
		return ErrCallState
	}
	target, err := parseURI(to.dlg.RemoteTarget)
	replaces := fmt.Sprintf("%s;to-tag=%s;from-tag=%s", to.dlg.CallID, to.dlg.RemoteTag, to.dlg.LocalTag)
	to.transferredAway = true
	to.mu.Unlock()
	if err == nil {
		target.Headers = sip.HeaderParams{{K: "Replaces", V: escapeHeaderValue(replaces)}}
		err = c.refer(target, true)
	}
	if err != nil {
		to.mu.Lock()
		to.transferredAway = false
		to.mu.Unlock()
	}
	return err
}

// refer sends the REFER of a transfer to target.
func (c *Call) refer(target sip.Uri, attended bool) error {
	c.mu.Lock()
	switch {
	case !c.state.established():
		c.mu.Unlock()
		return ErrCallState
	case c.transfer == TransferPending:
		c.mu.Unlock()
		return ErrBusy
	}
	c.transfer, c.transferCode = TransferPending, 0
	c.referring = true
	c.emitLocked()
	referredBy := "<" + c.dlg.LocalURI + ">"
	c.mu.Unlock()
	c.log.Info("transfer", "to", target.String(), "attended", attended)

	res, err := c.request(sip.REFER, func(req *sip.Request) {
		req.AppendHeader(sip.NewHeader("Refer-To", "<"+target.String()+">"))
		req.AppendHeader(sip.NewHeader("Referred-By", referredBy))
	})
	if err == nil && !res.IsSuccess() {
		err = fmt.Errorf("%d %s", res.StatusCode, res.Reason)
	}
	c.mu.Lock()
	c.referring = false
	c.mu.Unlock()
	if err != nil {
		c.mu.Lock()
		if c.transfer == TransferPending {
			c.transfer = TransferFailed
			if res != nil {
				c.transferCode = res.StatusCode
			}
			c.emitLocked()
		}
		c.mu.Unlock()
		return fmt.Errorf("sipua: transfer refused: %w", err)
	}
	return nil
}

// escapeHeaderValue escapes a header value for a URI's headers part
// (RFC 3261 section 25.1: hvalue).
func escapeHeaderValue(s string) string {
	const keep = "-_.!~*'()[]/?:+$"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || strings.IndexByte(keep, ch) >= 0 {
			b.WriteByte(ch)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", ch)
	}
	return b.String()
}

// onNotify serves NOTIFY within a call: the progress of our transfer as
// message/sipfrag (RFC 3515).
func (e *Endpoint) onNotify(req *sip.Request, tx sip.ServerTransaction) {
	c := e.lockDialogCall(req, tx)
	if c == nil {
		return
	}
	defer c.mu.Unlock()
	event := req.GetHeader("Event")
	if event == nil || !strings.EqualFold(strings.TrimSpace(strings.SplitN(event.Value(), ";", 2)[0]), "refer") {
		e.respond(tx, e.response(req, 489, "Bad Event"))
		return
	}
	code, _, err := parseSipfrag(req.Body())
	if err != nil {
		e.respond(tx, e.response(req, sip.StatusBadRequest, "Bad Sipfrag"))
		return
	}
	e.respond(tx, e.response(req, sip.StatusOK, "OK"))
	if c.transfer != TransferPending {
		return
	}
	c.transferCode = code
	terminated := false
	if h := req.GetHeader("Subscription-State"); h != nil {
		terminated = strings.HasPrefix(strings.ToLower(strings.TrimSpace(h.Value())), "terminated")
	}
	switch {
	case code >= 200 && code < 300:
		c.transfer = TransferSucceeded
		c.emitLocked()
		c.log.Info("transfer succeeded")
		e.goCall(func() { c.bye(EndTransferred, 0, "transferred") })
	case code >= 300 || terminated:
		c.transfer = TransferFailed
		c.log.Info("transfer failed", "code", code)
		c.emitLocked()
	default:
		c.emitLocked()
	}
}

// parseSipfrag reads the status line of a message/sipfrag body.
func parseSipfrag(body []byte) (int, string, error) {
	line, _, _ := strings.Cut(string(body), "\n")
	line = strings.TrimSpace(line)
	proto, rest, ok := strings.Cut(line, " ")
	if !ok || !strings.HasPrefix(proto, "SIP/") {
		return 0, "", fmt.Errorf("sipfrag %q: no status line", line)
	}
	codeStr, reason, _ := strings.Cut(rest, " ")
	code, err := strconv.Atoi(codeStr)
	if err != nil || code < 100 || code > 699 {
		return 0, "", fmt.Errorf("sipfrag %q: bad status", line)
	}
	return code, strings.TrimSpace(reason), nil
}

// replaces is a Replaces header (RFC 3891): the dialog an INVITE takes
// the place of, with the tags as the receiver sees them.
type replaces struct {
	callID, toTag, fromTag string
}

// parseReplaces reads "call-id;to-tag=a;from-tag=b[;early-only]". Control
// characters are refused: the value may come unescaped from a Refer-To
// and go into a header of ours.
func parseReplaces(v string) (replaces, error) {
	if strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return replaces{}, fmt.Errorf("replaces %q: control characters", v)
	}
	parts := strings.Split(v, ";")
	r := replaces{callID: strings.TrimSpace(parts[0])}
	if r.callID == "" {
		return r, fmt.Errorf("replaces %q: no call-id", v)
	}
	for _, p := range parts[1:] {
		k, val, _ := strings.Cut(p, "=")
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "to-tag":
			r.toTag = strings.TrimSpace(val)
		case "from-tag":
			r.fromTag = strings.TrimSpace(val)
		}
	}
	if r.toTag == "" || r.fromTag == "" {
		return r, fmt.Errorf("replaces %q: tags missing", v)
	}
	return r, nil
}

// parseReferTo reads a Refer-To value: the URI to call, without its
// headers, and the Replaces among them, unescaped.
func parseReferTo(v string) (sip.Uri, string, error) {
	var u sip.Uri
	params := sip.NewParams()
	if _, err := sip.ParseAddressValue(v, &u, &params); err != nil {
		return u, "", fmt.Errorf("refer-to %q: %w", v, err)
	}
	if u.Scheme != "sip" && u.Scheme != "sips" || u.Host == "" || u.Wildcard {
		return u, "", fmt.Errorf("refer-to %q: not a SIP URI", v)
	}
	var rep string
	for _, kv := range u.Headers {
		if strings.EqualFold(kv.K, "Replaces") {
			s, err := url.PathUnescape(kv.V)
			if err != nil {
				return u, "", fmt.Errorf("refer-to %q: replaces: %w", v, err)
			}
			if _, err := parseReplaces(s); err != nil {
				return u, "", err
			}
			rep = s
		}
	}
	u.Headers = nil
	return u, rep, nil
}

// TransferRequest is a peer's request to transfer a call of ours (a
// REFER), as Options.AcceptTransfer sees it.
type TransferRequest struct {
	CallID     string // the call whose peer asks
	Target     string // whom we are asked to call
	ReferredBy string // who asks
	// Attended: the target is to take the place of one of its calls
	// (Refer-To with Replaces).
	Attended bool
}

// onRefer serves a REFER within a call: our peer transfers us to someone
// else. Unless the application refuses (Options.AcceptTransfer: 603), we
// accept (202), call the target (in place of the dialog named by
// Replaces, for an attended transfer) and report its progress by NOTIFY.
// The call with the transferor goes on until it hangs up.
func (e *Endpoint) onRefer(req *sip.Request, tx sip.ServerTransaction) {
	c := e.lockDialogCall(req, tx)
	if c == nil {
		return
	}
	h := req.GetHeader("Refer-To")
	if h == nil {
		c.mu.Unlock()
		e.respond(tx, e.response(req, sip.StatusBadRequest, "Missing Refer-To"))
		return
	}
	target, rep, err := parseReferTo(h.Value())
	if err != nil {
		c.mu.Unlock()
		c.log.Info("REFER refused", "error", err)
		e.respond(tx, e.response(req, sip.StatusBadRequest, "Bad Refer-To"))
		return
	}
	referredBy := "<" + c.dlg.RemoteURI + ">"
	if rb := req.GetHeader("Referred-By"); rb != nil {
		referredBy = rb.Value()
	}
	if accept := e.opts.AcceptTransfer; accept != nil {
		c.mu.Unlock()
		ok := accept(TransferRequest{CallID: c.id, Target: target.String(), ReferredBy: referredBy, Attended: rep != ""})
		if !ok {
			c.log.Info("transfer request declined", "to", target.String())
			e.respond(tx, e.response(req, sip.StatusGlobalDecline, "Decline"))
			return
		}
		c.mu.Lock()
	}
	res := c.responseLocked(req, sip.StatusAccepted, "Accepted", nil)
	c.mu.Unlock()
	e.respond(tx, res)
	c.log.Info("transferred by the peer", "to", target.String(), "replaces", rep != "")

	n := c.newReferNotifier()
	n.progress(sip.StatusTrying, "Trying")
	tc, err := e.dial(c.reg, target, dialExtras{
		replaces:        rep,
		referredBy:      referredBy,
		transferredFrom: c.id,
		onProgress:      n.progress,
	})
	if err != nil {
		c.log.Warn("call for REFER", "error", err)
		n.progress(sip.StatusServiceUnavailable, "Service Unavailable")
		return
	}
	n.mu.Lock()
	n.call = tc
	n.mu.Unlock()
}

// referNotifier sends the NOTIFYs of a REFER we accepted, in order, ending
// with the final status.
type referNotifier struct {
	mu         sync.Mutex
	last       int // the last status queued: repeats are not reported
	lastReason string
	ended      bool  // the final NOTIFY is queued: nothing more goes out
	call       *Call // the call placed for the REFER, once dialled
	frags      chan sipfrag
	// over: the final NOTIFY has been sent (or the call is gone); the
	// subscription is no longer active.
	over bool
}

type sipfrag struct {
	code   int
	reason string
	// unsubscribed: the peer ended the subscription (SUBSCRIBE with
	// Expires 0); this NOTIFY, of the status so far, is the last.
	unsubscribed bool
}

// maxFrags bounds the statuses of one transfer: 100, a few distinct 18x
// and the final one.
const maxFrags = 8

func (c *Call) newReferNotifier() *referNotifier {
	n := &referNotifier{frags: make(chan sipfrag, maxFrags)}
	c.mu.Lock()
	c.notifier = n
	c.mu.Unlock()
	c.ep.goCall(func() {
		for f := range n.frags {
			c.notifyRefer(f)
			if f.code >= 200 || f.unsubscribed {
				n.mu.Lock()
				n.over = true
				n.mu.Unlock()
				return
			}
		}
	})
	return n
}

// active reports whether the subscription still owes the final NOTIFY,
// with the last status queued, and the call placed for the REFER.
func (n *referNotifier) active() (bool, int, *Call) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return !n.over, n.last, n.call
}

// progress queues a status of the transfer target. It never blocks:
// repeats, provisional statuses beyond the queue, and anything after the
// final NOTIFY are dropped.
func (n *referNotifier) progress(code int, reason string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	// The last slot is kept for the final status.
	if code == n.last || n.ended || code < 200 && len(n.frags) >= maxFrags-1 {
		return
	}
	n.last, n.lastReason, n.ended = code, reason, code >= 200
	select {
	case n.frags <- sipfrag{code: code, reason: reason}:
	default:
	}
}

// resend queues the status so far again, as the NOTIFY that answers the
// peer's SUBSCRIBE of the subscription (RFC 6665 section 4.2.1.2); after
// an unsubscribe it is the final one. It reports false once the final
// NOTIFY is queued.
func (n *referNotifier) resend(unsubscribe bool) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ended {
		return false
	}
	if !unsubscribe && len(n.frags) >= maxFrags-1 {
		return true // a NOTIFY is queued anyway
	}
	n.ended = unsubscribe
	select {
	case n.frags <- sipfrag{code: n.last, reason: n.lastReason, unsubscribed: unsubscribe}:
	default:
	}
	return true
}

// notifyRefer sends one NOTIFY of the implicit refer subscription.
func (c *Call) notifyRefer(f sipfrag) {
	c.mu.Lock()
	gone := c.state == CallEnded
	c.mu.Unlock()
	if gone {
		return
	}
	state := "active;expires=60"
	switch {
	case f.code >= 200:
		state = "terminated;reason=noresource"
	case f.unsubscribed:
		state = "terminated;reason=timeout"
	}
	res, err := c.request(sip.NOTIFY, func(req *sip.Request) {
		req.AppendHeader(sip.NewHeader("Event", "refer"))
		req.AppendHeader(sip.NewHeader("Subscription-State", state))
		req.AppendHeader(sip.NewHeader("Content-Type", "message/sipfrag;version=2.0"))
		req.SetBody(fmt.Appendf(nil, "SIP/2.0 %d %s\r\n", f.code, f.reason))
	})
	switch {
	case err != nil:
		c.log.Info("NOTIFY", "error", err)
	case !res.IsSuccess():
		c.log.Info("NOTIFY refused", "code", res.StatusCode)
	}
}

// onReplacingInvite serves an INVITE with Replaces: the last step of an
// attended transfer, where the transferee calls us in place of the
// transferor. The new call is answered at once and the replaced one hung
// up (RFC 3891).
func (e *Endpoint) onReplacingInvite(req *sip.Request, tx sip.ServerTransaction) {
	rep, err := parseReplaces(req.GetHeader("Replaces").Value())
	if err != nil {
		e.respond(tx, e.response(req, sip.StatusBadRequest, "Bad Replaces"))
		return
	}
	e.callsMu.Lock()
	old := e.dialogs[dialogKey{callID: rep.callID, localTag: rep.toTag}]
	e.callsMu.Unlock()
	ok := false
	if old != nil {
		old.mu.Lock()
		ok = old.dlg.RemoteTag == rep.fromTag && old.state.established()
		old.mu.Unlock()
	}
	if !ok {
		e.respond(tx, e.response(req, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist"))
		return
	}
	c := e.acceptInvite(req, tx)
	if c == nil {
		return
	}
	c.mu.Lock()
	c.replaced = old.id
	c.mu.Unlock()
	c.log.Info("call replaces another", "replaced", old.id)
	if err := c.answer(); err != nil {
		c.log.Warn("answer replacing call", "error", err)
		return
	}
	e.goCall(func() { old.bye(EndReplaced, 0, "replaced by call "+c.id) })
}

// referSubscriptionExpires is the lifetime our NOTIFYs grant an implicit
// refer subscription, and the most a SUBSCRIBE may ask for.
const referSubscriptionExpires = 60

// onSubscribe serves a SUBSCRIBE. We are a notifier only of the implicit
// subscription of a REFER we accepted (RFC 3515): the peer may refresh it
// or end it early (Expires 0) within the call's dialog; the NOTIFY that
// every accepted SUBSCRIBE brings (RFC 6665 section 4.2.1.2) repeats the
// status so far. Any other event package gets 489 Bad Event with our
// Allow-Events (RFC 6665 section 4.2.1.1), a refer subscription that does
// not exist (any more) 481.
func (e *Endpoint) onSubscribe(req *sip.Request, tx sip.ServerTransaction) {
	if !strings.EqualFold(eventType(req), "refer") {
		res := e.response(req, 489, "Bad Event")
		res.AppendHeader(sip.NewHeader("Allow-Events", "refer"))
		e.respond(tx, res)
		return
	}
	c := e.lockDialogCall(req, tx)
	if c == nil {
		return
	}
	n := c.notifier
	if n == nil {
		res := c.responseLocked(req, sip.StatusCallTransactionDoesNotExists, "Subscription Does Not Exist", nil)
		c.mu.Unlock()
		e.respond(tx, res)
		return
	}
	expires := referSubscriptionExpires
	if h := req.GetHeader("Expires"); h != nil {
		if v, err := strconv.Atoi(strings.TrimSpace(h.Value())); err == nil && v >= 0 && v < expires {
			expires = v
		}
	}
	if !n.resend(expires == 0) {
		res := c.responseLocked(req, sip.StatusCallTransactionDoesNotExists, "Subscription Does Not Exist", nil)
		c.mu.Unlock()
		e.respond(tx, res)
		return
	}
	res := c.responseLocked(req, sip.StatusOK, "OK", nil)
	res.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(expires)))
	c.mu.Unlock()
	e.respond(tx, res)
}
