package sipua

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
)

// routeNotify serves every NOTIFY: those of one of our subscriptions go to
// it, the rest to the calls (transfer progress, see transfer.go), which
// answer 481 when no call has the dialog either.
func (e *Endpoint) routeNotify(req *sip.Request, tx sip.ServerTransaction) {
	if s := e.subscriptionOf(req); s != nil {
		s.onNotify(req, tx)
		return
	}
	e.onNotify(req, tx)
}

// subscriptionOf finds the subscription of a NOTIFY by its Call-ID and To
// tag, checking the notifier's tag once the dialog has one. A NOTIFY may
// come before the SUBSCRIBE's 2xx and then makes the dialog.
func (e *Endpoint) subscriptionOf(req *sip.Request) *Subscription {
	key, remoteTag, ok := keyOfRequest(req)
	if !ok || key.localTag == "" {
		return nil
	}
	s := e.subs.byKey(key)
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rec.Dialog.RemoteTag != "" && s.rec.Dialog.RemoteTag != remoteTag {
		// A second dialog of a forked SUBSCRIBE: not kept.
		return nil
	}
	return s
}

// onNotify takes a NOTIFY of the subscription (RFC 6665 section 4.1.3).
func (s *Subscription) onNotify(req *sip.Request, tx sip.ServerTransaction) {
	e := s.ep
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rec.State == SubscriptionTerminated {
		e.respond(tx, e.response(req, sip.StatusCallTransactionDoesNotExists, "Subscription Does Not Exist"))
		return
	}
	seq := req.CSeq().SeqNo
	if s.rec.Dialog.RemoteCSeq != 0 && seq <= s.rec.Dialog.RemoteCSeq {
		e.respond(tx, e.response(req, sip.StatusInternalServerError, "CSeq Out of Order"))
		return
	}
	if !strings.EqualFold(eventType(req), s.pkg.Name()) {
		e.respond(tx, e.response(req, 489, "Bad Event"))
		return
	}
	h := req.GetHeader("Subscription-State")
	if h == nil {
		e.respond(tx, e.response(req, sip.StatusBadRequest, "Missing Subscription-State"))
		return
	}
	st, err := parseSubscriptionState(h.Value())
	if err != nil {
		s.log.Info("NOTIFY refused", "error", err)
		e.respond(tx, e.response(req, sip.StatusBadRequest, "Bad Subscription-State"))
		return
	}
	var content any
	if body := req.Body(); len(body) > 0 {
		if !hasContentType(req, s.pkg.Accept()) {
			res := e.response(req, sip.StatusUnsupportedMediaType, "Unsupported Media Type")
			res.AppendHeader(sip.NewHeader("Accept", s.pkg.Accept()))
			e.respond(tx, res)
			return
		}
		if content, err = s.pkg.Parse(body); err != nil {
			s.log.Info("NOTIFY body refused", "error", err)
			e.respond(tx, e.response(req, sip.StatusBadRequest, "Bad Body"))
			return
		}
	}
	d := &s.rec.Dialog
	d.RemoteCSeq = seq
	if d.RemoteTag == "" {
		// The NOTIFY came first: it makes the dialog, we being its UAS.
		d.RemoteTag = tag(req.From().Params)
		d.setRouteSet(req, false)
	}
	if u := contactURI(req); u != "" {
		d.RemoteTarget = u
	}
	e.respond(tx, e.response(req, sip.StatusOK, "OK"))
	if content != nil {
		s.content, s.body = content, req.Body()
	}
	s.apply(st)
}

// apply takes the Subscription-State of a NOTIFY we accepted.
func (s *Subscription) apply(st subState) {
	if st.state != SubscriptionTerminated {
		s.rec.State = st.state
		if st.expires >= 0 {
			s.setExpiryLocked(st.expires)
		}
		s.log.Info("NOTIFY", "state", st.state)
		s.emitLocked()
		return
	}
	if s.unsubscribing {
		s.endLocked(0, "unsubscribed")
		return
	}
	reason := st.reason
	if reason == "" {
		reason = "terminated"
	}
	// RFC 6665 section 4.1.3: deactivated and timeout invite a new
	// subscription at once; probation and giveup one after retry-after.
	delay := time.Duration(-1)
	switch st.reason {
	case "deactivated", "timeout":
		delay = 0
	case "probation", "giveup":
		if st.retryAfter >= 0 {
			delay = st.retryAfter
		}
	}
	if delay < 0 {
		s.endLocked(0, reason)
		return
	}
	s.rec.State, s.rec.Code, s.rec.Reason = SubscriptionSubscribing, 0, reason
	s.restartLocked()
	s.planLocked(delay)
	s.log.Info("subscription terminated by the notifier; subscribing again", "reason", reason, "in", delay)
	s.emitLocked()
}

// subState is a Subscription-State header: state, expires and
// retry-after in seconds (-1 when absent) and reason (lower case).
type subState struct {
	state      SubscriptionState
	expires    time.Duration
	retryAfter time.Duration
	reason     string
}

// parseSubscriptionState reads "active;expires=600",
// "terminated;reason=timeout;retry-after=30" and the like.
func parseSubscriptionState(v string) (subState, error) {
	st := subState{expires: -1, retryAfter: -1}
	parts := strings.Split(v, ";")
	switch strings.ToLower(strings.TrimSpace(parts[0])) {
	case "active":
		st.state = SubscriptionActive
	case "pending":
		st.state = SubscriptionPending
	case "terminated":
		st.state = SubscriptionTerminated
	default:
		return st, fmt.Errorf("subscription-state %q: unknown state", v)
	}
	seconds := func(val string) (time.Duration, error) {
		n, err := strconv.ParseUint(strings.TrimSpace(val), 10, 32)
		if err != nil {
			return 0, fmt.Errorf("subscription-state %q: %w", v, err)
		}
		return time.Duration(n) * time.Second, nil
	}
	for _, p := range parts[1:] {
		k, val, _ := strings.Cut(p, "=")
		var err error
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "expires":
			st.expires, err = seconds(val)
		case "retry-after":
			st.retryAfter, err = seconds(val)
		case "reason":
			st.reason = strings.ToLower(strings.TrimSpace(val))
		}
		if err != nil {
			return st, err
		}
	}
	return st, nil
}

// eventType is the event package of a request's Event header, without
// its parameters; "" when it has none.
func eventType(req *sip.Request) string {
	h := req.GetHeader("Event")
	if h == nil {
		return ""
	}
	t, _, _ := strings.Cut(h.Value(), ";")
	return strings.TrimSpace(t)
}
