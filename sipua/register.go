package sipua

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/google/uuid"
)

// reasonUnreachable is the Reason of a registration whose registrar did not
// answer at all.
const reasonUnreachable = "registrar unreachable"

// registration keeps one account registered. Its loop (run) sends every
// REGISTER; the probe, the network watch and the API only change its plan
// and wake the loop.
type registration struct {
	ep     *Endpoint
	acct   Account
	log    *slog.Logger
	callID string // one Call-ID for all our REGISTERs (RFC 3261 §10.2.4)
	tag    string
	wake   chan struct{}
	dialMu sync.Mutex // one TLS dial at a time (tls.go)

	mu         sync.Mutex
	state      RegistrationState
	code       int
	reason     string
	contact    sip.Uri
	expires    time.Duration // asked for; raised by a 423
	cseq       uint32
	expiresAt  time.Time
	due        time.Time // next REGISTER, when refreshing
	refreshing bool      // false after ExpireRegistration
	forced     bool      // a REGISTER was asked for while one was on its way
	failures   int       // consecutive failed attempts, for back-off
	// unreachable: the last failure had no SIP answer, so a probe that is
	// answered means trying again at once.
	unreachable bool
	lastOK      time.Time // when a REGISTER last succeeded
	timer       Timer
	// swept is the contact for which the bindings an earlier process of
	// this instance left were last looked for (sweepStale): once per
	// start, and again after the contact changes.
	swept sip.Uri
}

func newRegistration(e *Endpoint, a Account) *registration {
	return &registration{
		ep:         e,
		acct:       a,
		log:        e.log.With("site", a.Site),
		callID:     uuid.NewString(),
		tag:        sip.GenerateTagN(16),
		wake:       make(chan struct{}, 1),
		expires:    a.Expires,
		refreshing: true,
	}
}

func (r *registration) setContact(u sip.Uri) {
	r.mu.Lock()
	r.contact = u
	r.due = r.ep.clock.Now()
	r.mu.Unlock()
}

func (r *registration) snapshot() Registration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.snapshotLocked()
}

func (r *registration) snapshotLocked() Registration {
	reg := Registration{
		Site:       r.acct.Site,
		Registrar:  r.acct.Registrar,
		Transport:  r.acct.Transport,
		State:      r.state,
		Code:       r.code,
		Reason:     r.reason,
		ExpiresAt:  r.expiresAt,
		Refreshing: r.refreshing,
	}
	if r.contact.Host != "" {
		reg.Contact = r.contact.String()
	}
	if r.refreshing && r.state != RegistrationUnregistered {
		reg.NextAttempt = r.due
	}
	return reg
}

// setState records a new state and reports it when state, code or reason
// changed. Callers hold r.mu, which keeps the events in order.
func (r *registration) setState(s RegistrationState, code int, reason string) {
	if s == r.state && code == r.code && reason == r.reason {
		return
	}
	r.state, r.code, r.reason = s, code, reason
	if s != RegistrationRegistered && s != RegistrationExpired {
		// A binding may outlive a failed refresh, but we can no longer
		// vouch for it.
		r.expiresAt = time.Time{}
	}
	r.log.Info("registration", "state", s, "code", code, "reason", reason)
	r.ep.emit(RegistrationEvent{r.snapshotLocked()})
}

// poke wakes the loop to look at its plan again.
func (r *registration) poke() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// run sends the account's REGISTERs until ctx ends.
func (r *registration) run(ctx context.Context) {
	defer r.stopTimer()
	for ctx.Err() == nil {
		if r.plan() {
			r.register(ctx)
			continue
		}
		select {
		case <-ctx.Done():
		case <-r.wake:
		}
	}
}

// plan reports whether a REGISTER is due now; otherwise it sets the timer
// for the next thing to happen.
func (r *registration) plan() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.ep.clock.Now()
	if !r.refreshing {
		if r.state == RegistrationRegistered {
			if now.Before(r.expiresAt) {
				r.arm(r.expiresAt.Sub(now))
			} else {
				r.setState(RegistrationExpired, 0, "registration expired")
			}
		}
		return false
	}
	if r.due.After(now) {
		r.arm(r.due.Sub(now))
		return false
	}
	return true
}

func (r *registration) arm(d time.Duration) {
	if r.timer != nil {
		r.timer.Stop()
	}
	r.timer = r.ep.clock.AfterFunc(d, r.poke)
}

func (r *registration) stopTimer() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.timer != nil {
		r.timer.Stop()
	}
}

// register sends one REGISTER (with its authentication) and plans the next.
func (r *registration) register(ctx context.Context) {
	r.mu.Lock()
	r.forced = false
	switch r.state {
	case RegistrationRegistered, RegistrationFailed, RegistrationCertificateError:
		// A refresh, or a retry that keeps showing why it is needed.
	default:
		r.setState(RegistrationRegistering, 0, "")
	}
	expires := r.expires
	r.mu.Unlock()

	res, err := r.transact(ctx, expires)
	if ctx.Err() != nil {
		return // closing: Close reports the final state
	}
	if stale := r.settle(res, err); len(stale) > 0 {
		r.sweepStale(ctx, stale)
	}
}

// settle records the outcome of a REGISTER and plans the next one. After
// a success it returns the bindings of our instance that are not ours
// now, when they are still to be looked for (sweepStale).
func (r *registration) settle(res *sip.Response, err error) []sip.ContactHeader {
	r.mu.Lock()
	defer r.mu.Unlock()
	var stale []sip.ContactHeader
	now := r.ep.clock.Now()
	problem, badCert := certificateProblem(err)
	switch {
	case badCert:
		r.unreachable = false
		r.fail(now, RegistrationCertificateError, 0, problem, 0)
	case err != nil:
		r.unreachable = true
		r.fail(now, RegistrationFailed, 0, reasonUnreachable, 0)
		r.log.Debug("REGISTER failed", "error", err)
	case res.IsSuccess():
		granted := grantedExpiry(res, r.contact, r.expires)
		if granted <= 0 {
			r.unreachable = false
			r.fail(now, RegistrationFailed, res.StatusCode, "registrar kept no binding", 0)
			break
		}
		r.failures, r.unreachable, r.lastOK = 0, false, now
		r.expiresAt = now.Add(granted)
		// Half the lifetime leaves the other half for retries.
		r.due = now.Add(granted / 2)
		r.setState(RegistrationRegistered, res.StatusCode, res.Reason)
		if !sameContact(r.swept, r.contact) {
			r.swept = r.contact
			stale = staleBindings(res, r.contact, r.ep.opts.InstanceID)
		}
	default:
		r.unreachable = false
		r.fail(now, RegistrationFailed, res.StatusCode, res.Reason, retryAfter(res))
	}
	if r.forced {
		r.due = now
	}
	return stale
}

// staleBindings are the contacts of a REGISTER's 2xx that carry our
// +sip.instance but are not our contact: bindings that an earlier process
// of this device (killed, or crashed, before it could un-REGISTER) left at
// the registrar. Calls would fork to them until they expire. A registrar
// that honours +sip.instance (RFC 5626, e.g. kamailio's save) replaced them
// with ours already; one that binds by URI alone (RFC 3261) keeps them.
func staleBindings(res *sip.Response, ours sip.Uri, instance string) []sip.ContactHeader {
	var out []sip.ContactHeader
	for _, h := range res.GetHeaders("Contact") {
		ch, ok := h.(*sip.ContactHeader)
		if !ok || ch.Address.Wildcard || sameContact(ch.Address, ours) {
			continue
		}
		if v, ok := ch.Params.Get("+sip.instance"); ok && sameInstance(v, instance) {
			out = append(out, *ch)
		}
	}
	return out
}

// sameInstance compares a +sip.instance parameter (the instance ID in
// angle brackets, quoted) with an instance ID (RFC 5626 section 4.1: URN comparison, the uuid in
// any case).
func sameInstance(param, instance string) bool {
	v := strings.TrimSpace(param)
	v = strings.TrimSuffix(strings.TrimPrefix(v, `"`), `"`)
	v = strings.TrimSuffix(strings.TrimPrefix(v, "<"), ">")
	return v != "" && strings.EqualFold(v, instance)
}

// sweepStale removes bindings that an earlier process of this instance
// left (staleBindings) with a REGISTER of those contacts at Expires 0.
// Our own binding is not in it. A failure is logged: the bindings then
// expire on their own.
func (r *registration) sweepStale(ctx context.Context, stale []sip.ContactHeader) {
	contacts := make([]string, len(stale))
	for i, ch := range stale {
		contacts[i] = ch.Address.String()
	}
	r.log.Info("removing the bindings an earlier run left", "contacts", contacts)
	res, err := r.transactWith(ctx, 0, func(dest string, expires time.Duration) *sip.Request {
		req := r.newRequestFor(dest)
		for _, ch := range stale {
			// By URI alone (RFC 3261 section 10.3): with our instance on
			// it, a registrar keyed by instance would take it for ours.
			h := &sip.ContactHeader{Address: ch.Address, Params: sip.NewParams()}
			h.Params.Add("expires", "0")
			req.AppendHeader(h)
		}
		exp := sip.ExpiresHeader(0)
		req.AppendHeader(&exp)
		req.AppendHeader(sip.NewHeader("User-Agent", r.ep.opts.UserAgent))
		return req
	})
	switch {
	case err != nil:
		r.log.Info("removing the earlier run's bindings failed; they expire on their own", "error", err)
	case !res.IsSuccess():
		r.log.Info("removing the earlier run's bindings refused; they expire on their own", "code", res.StatusCode, "reason", res.Reason)
	}
}

// fail records a failed attempt and plans the next one after the back-off
// (or the server's Retry-After, up to MaxBackoff).
func (r *registration) fail(now time.Time, s RegistrationState, code int, reason string, after time.Duration) {
	r.failures++
	wait := max(backoff(r.failures, r.ep.opts.MinBackoff, r.ep.opts.MaxBackoff), min(after, r.ep.opts.MaxBackoff))
	r.due = now.Add(wait)
	r.setState(s, code, reason)
}

// backoff is the wait after the n-th consecutive failure: MinBackoff
// doubling up to MaxBackoff, less up to a quarter at random so that many
// endpoints failing together do not come back together.
func backoff(n int, lo, hi time.Duration) time.Duration {
	d := lo
	for i := 1; i < n && d < hi; i++ {
		d *= 2
	}
	d = min(d, hi)
	if q := int64(d / 4); q > 0 {
		d -= time.Duration(rand.Int64N(q + 1))
	}
	return d
}

// retryAfter is the Retry-After of res, zero when absent or malformed.
func retryAfter(res *sip.Response) time.Duration {
	h := res.GetHeader("Retry-After")
	if h == nil {
		return 0
	}
	v, _, _ := strings.Cut(h.Value(), ";") // drop a comment or parameters
	v, _, _ = strings.Cut(strings.TrimSpace(v), " ")
	n, err := strconv.ParseUint(v, 10, 32)
	if err != nil {
		return 0
	}
	return time.Duration(n) * time.Second
}

// transact sends a REGISTER asking for expires (0 removes our binding),
// answers a digest challenge and a 423, and returns the final response.
func (r *registration) transact(ctx context.Context, expires time.Duration) (*sip.Response, error) {
	return r.transactWith(ctx, expires, r.newRegister)
}

// transactWith is transact with the REGISTERs built by build.
func (r *registration) transactWith(ctx context.Context, expires time.Duration, build func(dest string, expires time.Duration) *sip.Request) (*sip.Response, error) {
	dest, err := r.ep.destination(ctx, r)
	if err != nil {
		return nil, err
	}
	timeout := r.ep.opts.RequestTimeout
	req := build(dest, expires)
	res, err := r.ep.do(ctx, req, timeout)
	for auths, retried423 := 0, false; err == nil; {
		switch res.StatusCode {
		case sip.StatusUnauthorized, sip.StatusProxyAuthRequired:
			ch, cerr := pickChallenge(res)
			if cerr != nil {
				r.log.Warn("cannot answer challenge", "error", cerr)
				return res, nil
			}
			// Credentials answered with a fresh challenge were refused,
			// unless the server only found our nonce stale.
			if auths > 0 && !ch.Stale || auths >= 3 {
				return res, nil
			}
			auths++
			req = build(dest, expires)
			if err := authorize(req, ch, r.acct.AuthUser, r.acct.Password); err != nil {
				r.log.Warn("cannot answer challenge", "error", err)
				return res, nil
			}
		case sip.StatusIntervalToBrief:
			least := minExpires(res)
			if retried423 || least <= expires {
				return res, nil
			}
			retried423, auths, expires = true, 0, least
			r.mu.Lock()
			r.expires = least
			r.mu.Unlock()
			req = build(dest, expires)
		default:
			return res, nil
		}
		res, err = r.ep.do(ctx, req, timeout)
	}
	return nil, err
}

// minExpires is the Min-Expires of a 423, zero when absent or malformed.
func minExpires(res *sip.Response) time.Duration {
	h := res.GetHeader("Min-Expires")
	if h == nil {
		return 0
	}
	n, err := strconv.ParseUint(strings.TrimSpace(h.Value()), 10, 32)
	if err != nil {
		return 0
	}
	return time.Duration(n) * time.Second
}

// newRegister builds a REGISTER of our contact to dest.
func (r *registration) newRegister(dest string, expires time.Duration) *sip.Request {
	r.mu.Lock()
	contact := r.contact
	r.mu.Unlock()
	req := r.newRequestFor(dest)
	ch := &sip.ContactHeader{Address: contact, Params: sip.NewParams()}
	ch.Params.Add("+sip.instance", `"<`+r.ep.opts.InstanceID+`>"`)
	req.AppendHeader(ch)
	exp := sip.ExpiresHeader(expires / time.Second)
	req.AppendHeader(&exp)
	req.AppendHeader(sip.NewHeader("User-Agent", r.ep.opts.UserAgent))
	return req
}

// newRequestFor starts a REGISTER to dest with the next CSeq of our
// Call-ID, without Contact and Expires.
func (r *registration) newRequestFor(dest string) *sip.Request {
	r.mu.Lock()
	r.cseq++
	cseq := r.cseq
	r.mu.Unlock()
	return r.newRequest(sip.REGISTER, sip.Uri{Scheme: "sip", Host: r.acct.Domain}, r.aor(), r.callID, cseq, dest)
}

// newRequest starts an out-of-dialog request from the account's address of
// record; sipgo adds Via, Max-Forwards and Content-Length.
func (r *registration) newRequest(method sip.RequestMethod, ruri, to sip.Uri, callID string, cseq uint32, dest string) *sip.Request {
	req := sip.NewRequest(method, ruri)
	req.SetDestination(dest)
	req.SetTransport(sip.NetworkToUpper(r.acct.Transport))
	if r.acct.Transport == TransportUDP {
		req.Laddr = r.ep.udpLocalAddr()
	}
	from := &sip.FromHeader{Address: r.aor(), Params: sip.NewParams()}
	from.Params.Add("tag", r.tag)
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: to})
	id := sip.CallIDHeader(callID)
	req.AppendHeader(&id)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: cseq, MethodName: method})
	return req
}

func (r *registration) aor() sip.Uri {
	return sip.Uri{Scheme: "sip", User: r.acct.User, Host: r.acct.Domain}
}

// grantedExpiry is the lifetime the registrar gave our contact: the expires
// parameter of our Contact in the 2xx, else its Expires header, else what we
// asked for (RFC 3261 §10.2.4).
func grantedExpiry(res *sip.Response, ours sip.Uri, asked time.Duration) time.Duration {
	for _, h := range res.GetHeaders("Contact") {
		ch, ok := h.(*sip.ContactHeader)
		if !ok || !sameContact(ch.Address, ours) {
			continue
		}
		if v, ok := ch.Params.Get("expires"); ok {
			if n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 32); err == nil {
				return time.Duration(n) * time.Second
			}
		}
	}
	if h := res.GetHeader("Expires"); h != nil {
		if n, err := strconv.ParseUint(strings.TrimSpace(h.Value()), 10, 32); err == nil {
			return time.Duration(n) * time.Second
		}
	}
	return asked
}

// sameContact compares the parts of two contact URIs that locate us.
func sameContact(a, b sip.Uri) bool {
	transport := func(u sip.Uri) string {
		if u.UriParams != nil {
			if t, ok := u.UriParams.Get("transport"); ok {
				return strings.ToLower(t)
			}
		}
		return TransportUDP
	}
	return a.User == b.User && strings.EqualFold(a.Host, b.Host) && a.Port == b.Port && transport(a) == transport(b)
}

// pause stops refreshing (ExpireRegistration).
func (r *registration) pause() {
	r.mu.Lock()
	r.refreshing = false
	r.mu.Unlock()
	r.log.Info("registration refresh stopped")
	r.poke()
}

// resume refreshes again after pause.
func (r *registration) resume() {
	r.mu.Lock()
	if !r.refreshing {
		r.refreshing = true
		if r.state != RegistrationRegistered {
			r.due = r.ep.clock.Now()
		}
	}
	r.mu.Unlock()
	r.log.Info("registration refresh resumed")
	r.poke()
}

// registerNow plans a REGISTER at once with the back-off reset. Unless
// resume is set, an account whose refreshing was stopped is left alone.
func (r *registration) registerNow(why string, resume bool) {
	r.mu.Lock()
	if !r.refreshing && !resume {
		r.mu.Unlock()
		return
	}
	r.refreshing = true
	r.failures = 0
	r.due = r.ep.clock.Now()
	r.forced = true
	r.mu.Unlock()
	r.log.Info("register now", "why", why)
	r.poke()
}

// unregister removes our binding (Close); bounded by ctx.
func (r *registration) unregister(ctx context.Context) {
	r.mu.Lock()
	bound := r.state == RegistrationRegistered && r.ep.clock.Now().Before(r.expiresAt)
	r.mu.Unlock()
	if bound {
		res, err := r.transact(ctx, 0)
		switch {
		case err != nil:
			r.log.Info("un-REGISTER failed", "error", err)
		case !res.IsSuccess():
			r.log.Info("un-REGISTER refused", "code", res.StatusCode, "reason", res.Reason)
		}
	}
	r.mu.Lock()
	r.setState(RegistrationUnregistered, 0, "endpoint closed")
	r.mu.Unlock()
}
