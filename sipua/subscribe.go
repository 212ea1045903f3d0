package sipua

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/google/uuid"
)

// DefaultSubscribeExpires is the subscription lifetime asked for when
// SubscribeOptions names none.
const DefaultSubscribeExpires = time.Hour

// ErrSubscriptionRefused means the notifier answered a SUBSCRIBE with a
// final failure; the error text carries the status.
var ErrSubscriptionRefused = errors.New("sipua: subscription refused")

// EventPackage is what an event package (RFC 6665 section 7) tells the
// subscription framework: the Event header token, the body type to Accept
// and how to read a NOTIFY body. MessageSummary (message-summary) is built
// in; pass others in SubscribeOptions.Package.
type EventPackage interface {
	// Name is the Event header value, e.g. "message-summary".
	Name() string
	// Accept is the content type of NOTIFY bodies.
	Accept() string
	// Parse reads a NOTIFY body into the value SubscriptionInfo.Content
	// carries. It must not panic on any input.
	Parse(body []byte) (any, error)
}

// builtinPackages are the event packages Subscribe knows by name.
var builtinPackages = map[string]EventPackage{
	EventMessageSummary: messageSummaryPackage{},
}

// SubscribeOptions shape a subscription.
type SubscribeOptions struct {
	// Site is the account to subscribe through; default the first
	// registered account, in account order.
	Site string
	// Event is the event package; default "message-summary".
	Event string
	// Package implements Event when it is not built in.
	Package EventPackage
	// Target is the resource subscribed to; default our own address of
	// record at Site (the mailbox of message-summary).
	Target string
	// Expires is the lifetime asked for, in whole seconds; default
	// DefaultSubscribeExpires. The notifier may grant less.
	Expires time.Duration
}

// SubscriptionState is where a subscription stands (RFC 6665).
type SubscriptionState int

const (
	// SubscriptionSubscribing: a SUBSCRIBE was accepted (or is to be sent
	// again) and no NOTIFY has said how it stands.
	SubscriptionSubscribing SubscriptionState = iota
	// SubscriptionPending: the notifier has not yet authorised it.
	SubscriptionPending
	// SubscriptionActive: NOTIFYs report the resource's state.
	SubscriptionActive
	// SubscriptionTerminated: it is over; Reason says why.
	SubscriptionTerminated
)

func (s SubscriptionState) String() string {
	switch s {
	case SubscriptionSubscribing:
		return "subscribing"
	case SubscriptionPending:
		return "pending"
	case SubscriptionActive:
		return "active"
	case SubscriptionTerminated:
		return "terminated"
	}
	return fmt.Sprintf("SubscriptionState(%d)", int(s))
}

// SubscriptionInfo is a subscription at a moment.
type SubscriptionInfo struct {
	ID     string
	Site   string
	Event  string
	Target string
	State  SubscriptionState
	// Reason is the reason of the last Subscription-State terminated
	// ("timeout", "noresource", "unsubscribed"…) or of a failure; Code
	// the status of the last refused SUBSCRIBE.
	Reason string
	Code   int
	// ExpiresAt is when the subscription runs out unless refreshed.
	ExpiresAt time.Time
	// NextAttempt is when the next SUBSCRIBE (refresh or retry) is due.
	NextAttempt time.Time
	// Content is the last NOTIFY body as the package parsed it, e.g. a
	// MessageSummary; nil before the first body.
	Content any
}

// SubscriptionEvent reports that a subscription changed state or got a
// NOTIFY body. It carries the subscription as it now is.
type SubscriptionEvent struct {
	SubscriptionInfo
}

func (SubscriptionEvent) isEvent() {}

// subscriptionRecord is all a subscription is, as plain values: what a
// store needs to carry it on in another endpoint.
type subscriptionRecord struct {
	ID      string
	Site    string
	Event   string
	Target  string
	Dialog  DialogState
	Expires time.Duration // asked for
	// ExpiresAt is when the granted lifetime ends; zero before a grant.
	ExpiresAt time.Time
	State     SubscriptionState
	Reason    string
	Code      int
}

// Subscription is one subscription of ours (RFC 6665 subscriber). It is
// refreshed before it expires until Unsubscribe, a final NOTIFY or Close.
type Subscription struct {
	ep   *Endpoint
	reg  *registration
	pkg  EventPackage
	log  *slog.Logger
	done chan struct{}

	mu            sync.Mutex
	rec           subscriptionRecord
	content       any
	body          []byte // the NOTIFY body content was parsed from, for Store
	timer         Timer
	planGen       int // timers of an older plan do nothing
	next          time.Time
	failures      int  // consecutive failed SUBSCRIBEs, for back-off
	unsubscribing bool // no refresh, no retry: the end is near
	sending       int  // planned SUBSCRIBEs under way, answers not yet taken: Store waits
}

// subscriptions are the endpoint's subscriptions that have not ended.
type subscriptions struct {
	mu       sync.Mutex
	byID     map[string]*Subscription
	byDialog map[dialogKey]*Subscription
}

func (ss *subscriptions) add(s *Subscription, k dialogKey) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.byID == nil {
		ss.byID = make(map[string]*Subscription)
		ss.byDialog = make(map[dialogKey]*Subscription)
	}
	ss.byID[s.rec.ID] = s
	ss.byDialog[k] = s
}

func (ss *subscriptions) rekey(s *Subscription, old, k dialogKey) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.byDialog[old] == s {
		delete(ss.byDialog, old)
	}
	if ss.byID[s.rec.ID] == s {
		ss.byDialog[k] = s
	}
}

func (ss *subscriptions) remove(s *Subscription, k dialogKey) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	delete(ss.byID, s.rec.ID)
	if ss.byDialog[k] == s {
		delete(ss.byDialog, k)
	}
}

func (ss *subscriptions) all() []*Subscription {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	out := make([]*Subscription, 0, len(ss.byID))
	for _, s := range ss.byID {
		out = append(out, s)
	}
	return out
}

func (ss *subscriptions) byKey(k dialogKey) *Subscription {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.byDialog[k]
}

// Subscribe subscribes to opts.Event at opts.Target and returns once the
// notifier accepted: the SUBSCRIBE goes through the account's registrar as
// outbound proxy (straight to the target's host with Account.DirectCalls)
// and answers a digest challenge. The NOTIFYs come as SubscriptionEvents.
func (e *Endpoint) Subscribe(opts SubscribeOptions) (*Subscription, error) {
	if !e.running() {
		return nil, ErrNotStarted
	}
	r, err := e.dialAccount(opts.Site)
	if err != nil {
		return nil, err
	}
	if opts.Event == "" {
		opts.Event = EventMessageSummary
		if opts.Package != nil {
			opts.Event = opts.Package.Name()
		}
	}
	pkg := opts.Package
	if pkg == nil {
		pkg = builtinPackages[strings.ToLower(opts.Event)]
	}
	if pkg == nil || !strings.EqualFold(pkg.Name(), opts.Event) {
		return nil, fmt.Errorf("sipua: subscribe: no event package %q", opts.Event)
	}
	if opts.Target == "" {
		opts.Target = uriString(r.aor())
	}
	target, err := targetURI(opts.Target, r.acct)
	if err != nil {
		return nil, err
	}
	switch {
	case opts.Expires == 0:
		opts.Expires = DefaultSubscribeExpires
	case opts.Expires < time.Second:
		return nil, fmt.Errorf("sipua: subscribe: Expires %v is below one second", opts.Expires)
	}
	s := &Subscription{
		ep:   e,
		reg:  r,
		pkg:  pkg,
		done: make(chan struct{}),
		rec: subscriptionRecord{
			ID:      uuid.NewString(),
			Site:    r.acct.Site,
			Event:   pkg.Name(),
			Target:  target.String(),
			Expires: opts.Expires.Truncate(time.Second),
		},
	}
	s.log = e.log.With("subscription", s.rec.ID, "event", s.rec.Event, "site", r.acct.Site)
	s.mu.Lock()
	s.newDialogLocked()
	e.subs.add(s, s.keyLocked())
	s.mu.Unlock()
	s.log.Info("subscribing", "target", s.rec.Target)

	res, err := s.send(true, s.rec.Expires)
	if err == nil && !res.IsSuccess() {
		err = fmt.Errorf("%w: %d %s", ErrSubscriptionRefused, res.StatusCode, res.Reason)
	}
	if err != nil {
		code := 0
		if res != nil {
			code = res.StatusCode
		}
		s.end(code, err.Error())
		return nil, fmt.Errorf("sipua: subscribe %s at %s: %w", s.rec.Event, r.acct.Site, err)
	}
	s.accepted(res, s.rec.Dialog.CallID)
	return s, nil
}

// Subscriptions returns the subscriptions that have not ended.
func (e *Endpoint) Subscriptions() []*Subscription { return e.subs.all() }

// ID identifies the subscription in events.
func (s *Subscription) ID() string { return s.rec.ID }

// Done is closed when the subscription has ended for good.
func (s *Subscription) Done() <-chan struct{} { return s.done }

// Info returns the subscription as it now is.
func (s *Subscription) Info() SubscriptionInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.infoLocked()
}

func (s *Subscription) infoLocked() SubscriptionInfo {
	return SubscriptionInfo{
		ID:          s.rec.ID,
		Site:        s.rec.Site,
		Event:       s.rec.Event,
		Target:      s.rec.Target,
		State:       s.rec.State,
		Reason:      s.rec.Reason,
		Code:        s.rec.Code,
		ExpiresAt:   s.rec.ExpiresAt,
		NextAttempt: s.next,
		Content:     s.content,
	}
}

func (s *Subscription) emitLocked() {
	s.ep.emit(SubscriptionEvent{s.infoLocked()})
}

func (s *Subscription) keyLocked() dialogKey {
	return dialogKey{callID: s.rec.Dialog.CallID, localTag: s.rec.Dialog.LocalTag}
}

// newDialogLocked starts a fresh dialog (new Call-ID and tag): for the
// first SUBSCRIBE and for each new subscription after one ended.
func (s *Subscription) newDialogLocked() {
	a := s.reg.acct
	s.rec.Dialog = DialogState{
		CallID:       uuid.NewString(),
		LocalTag:     sip.GenerateTagN(16),
		LocalURI:     uriString(s.reg.aor()),
		RemoteURI:    s.rec.Target,
		RemoteTarget: s.rec.Target,
		LocalContact: uriString(s.ep.contactOn(a.User, a.Transport)),
		Transport:    a.Transport,
	}
	s.rec.ExpiresAt = time.Time{}
}

// restartLocked drops the dialog for a new one, to which the next
// SUBSCRIBE goes as a new subscription; the old dialog's NOTIFYs get 481.
func (s *Subscription) restartLocked() {
	old := s.keyLocked()
	s.newDialogLocked()
	s.ep.subs.rekey(s, old, s.keyLocked())
	s.rec.State = SubscriptionSubscribing
}

func (s *Subscription) callID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rec.Dialog.CallID
}

// send sends one SUBSCRIBE asking for expires (0 to unsubscribe) and
// returns its final answer, answering a digest challenge on the way.
// initial sends it outside the dialog, through the outbound proxy.
func (s *Subscription) send(initial bool, expires time.Duration) (*sip.Response, error) {
	acct := s.reg.acct
	var auth *challenge
	for attempt := 0; ; attempt++ {
		s.mu.Lock()
		req, dest, transport, err := s.rec.Dialog.newRequest(sip.SUBSCRIBE, s.rec.Dialog.nextCSeq())
		contact := s.rec.Dialog.LocalContact
		s.mu.Unlock()
		if err != nil {
			return nil, err
		}
		if initial && !acct.DirectCalls {
			dest, transport = acct.Registrar, acct.Transport
		}
		cu, err := parseURI(contact)
		if err != nil {
			return nil, fmt.Errorf("local contact %q: %w", contact, err)
		}
		// SUBSCRIBE refreshes the target like INVITE (RFC 6665 section 4.1.2).
		req.AppendHeader(&sip.ContactHeader{Address: cu})
		s.ep.addHeaders(req, false)
		req.AppendHeader(sip.NewHeader("Event", s.pkg.Name()))
		req.AppendHeader(sip.NewHeader("Accept", s.pkg.Accept()))
		req.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(int(expires/time.Second))))
		if auth != nil {
			if err := authorize(req, *auth, acct.AuthUser, acct.Password); err != nil {
				return nil, err
			}
		}
		res, err := s.ep.transactSubscribe(s.reg, req, dest, transport)
		if err != nil {
			return nil, err
		}
		if res.StatusCode == sip.StatusUnauthorized || res.StatusCode == sip.StatusProxyAuthRequired {
			ch, cerr := pickChallenge(res)
			if cerr != nil || attempt >= 2 || attempt > 0 && !ch.Stale {
				return res, nil
			}
			auth = &ch
			continue
		}
		return res, nil
	}
}

// transactSubscribe sends a non-INVITE request to dest and waits at most
// RequestTimeout for its final answer; Close's abort ends the wait.
func (e *Endpoint) transactSubscribe(r *registration, req *sip.Request, dest, transport string) (*sip.Response, error) {
	ctx, cancel := context.WithTimeout(context.Background(), e.opts.RequestTimeout)
	defer cancel()
	go func() {
		select {
		case <-e.abort:
			cancel()
		case <-ctx.Done():
		}
	}()
	if err := e.address(ctx, req, r, dest, transport); err != nil {
		return nil, err
	}
	res, err := e.client.Do(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", req.Method, err)
	}
	return res, nil
}

// accepted takes the 2xx of a SUBSCRIBE sent in the dialog callID: the
// dialog (unless a NOTIFY made it first), the granted expiry and the next
// refresh.
func (s *Subscription) accepted(res *sip.Response, callID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rec.State == SubscriptionTerminated || s.rec.Dialog.CallID != callID {
		return
	}
	if s.rec.Dialog.RemoteTag == "" {
		s.rec.Dialog.RemoteTag = toTag(res)
		if u := contactURI(res); u != "" {
			s.rec.Dialog.RemoteTarget = u
		}
		s.rec.Dialog.setRouteSet(res, true)
	}
	granted := s.rec.Expires
	if h := res.GetHeader("Expires"); h != nil {
		if n, err := strconv.ParseUint(strings.TrimSpace(h.Value()), 10, 32); err == nil {
			granted = time.Duration(n) * time.Second
		}
	}
	if s.rec.Code != 0 {
		s.rec.Code, s.rec.Reason = 0, "" // the failure is over
	}
	s.failures = 0
	s.setExpiryLocked(granted)
	s.log.Info("subscription accepted", "code", res.StatusCode, "expires", granted)
	s.emitLocked()
}

// setExpiryLocked records a granted lifetime and plans the refresh before
// it ends: half way for short lifetimes, 32 s ahead for long ones.
func (s *Subscription) setExpiryLocked(granted time.Duration) {
	now := s.ep.clock.Now()
	s.rec.ExpiresAt = now.Add(granted)
	if s.unsubscribing {
		return
	}
	if granted <= 0 {
		// Nothing granted: not a loop of refreshes, but a new
		// subscription after the back-off, unless a NOTIFY ends it first.
		s.planLocked(s.ep.opts.MinBackoff)
		return
	}
	s.planLocked(granted - min(granted/2, 32*time.Second))
}

// planLocked sets the timer for the next SUBSCRIBE, after d.
func (s *Subscription) planLocked(d time.Duration) {
	s.stopTimerLocked()
	s.planGen++
	gen := s.planGen
	s.next = s.ep.clock.Now().Add(d)
	if d <= 0 {
		s.ep.goCall(func() { s.fire(gen) })
		return
	}
	s.timer = s.ep.clock.AfterFunc(d, func() {
		s.ep.goCall(func() { s.fire(gen) })
	})
}

func (s *Subscription) stopTimerLocked() {
	if s.timer != nil {
		s.timer.Stop()
		s.timer = nil
	}
	s.next = time.Time{}
}

// fire sends the planned SUBSCRIBE: a refresh within the dialog while it
// lasts, else a new subscription.
func (s *Subscription) fire(gen int) {
	s.mu.Lock()
	if gen != s.planGen || s.rec.State == SubscriptionTerminated || s.unsubscribing {
		s.mu.Unlock()
		return
	}
	s.next = time.Time{}
	if s.rec.Dialog.RemoteTag != "" && !s.ep.clock.Now().Before(s.rec.ExpiresAt) {
		s.restartLocked()
	}
	// A dialog without the notifier's tag is new (or its first SUBSCRIBE
	// failed, and is tried again with the same Call-ID).
	initial := s.rec.Dialog.RemoteTag == ""
	callID := s.rec.Dialog.CallID
	s.sending++
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.sending--
		s.mu.Unlock()
	}()

	res, err := s.send(initial, s.rec.Expires)
	switch {
	case err == nil && res.IsSuccess():
		s.accepted(res, callID)
	case err == nil && res.StatusCode == sip.StatusCallTransactionDoesNotExists && !initial:
		// The notifier forgot us: subscribe afresh at once.
		s.mu.Lock()
		if s.rec.Dialog.CallID == callID {
			s.restartLocked()
		}
		s.mu.Unlock()
		s.retry(s.callID(), 0, res.StatusCode, "subscription gone")
	case err != nil || retryable(res.StatusCode):
		code, reason := 0, ""
		if err != nil {
			reason = err.Error()
		} else {
			code, reason = res.StatusCode, res.Reason
		}
		s.retry(callID, -1, code, reason)
	default:
		s.mu.Lock()
		same := s.rec.Dialog.CallID == callID
		s.mu.Unlock()
		if same {
			s.end(res.StatusCode, res.Reason)
		}
	}
}

// retryable reports whether a refused SUBSCRIBE may succeed later.
func retryable(code int) bool {
	return code == sip.StatusRequestTimeout || code == sip.StatusTemporarilyUnavailable || code >= 500 && code < 600
}

// retry plans another SUBSCRIBE after a failure of the dialog callID:
// after delay, or with back-off when delay is negative.
func (s *Subscription) retry(callID string, delay time.Duration, code int, reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rec.State == SubscriptionTerminated || s.rec.Dialog.CallID != callID || s.unsubscribing {
		return
	}
	if delay < 0 {
		delay = s.ep.opts.MinBackoff << min(s.failures, 16)
		delay = min(delay, s.ep.opts.MaxBackoff)
		s.failures++
	}
	s.rec.Code, s.rec.Reason = code, reason
	s.planLocked(delay)
	s.log.Info("subscription retry", "in", delay, "code", code, "reason", reason)
	s.emitLocked()
}

// end terminates the subscription for good.
func (s *Subscription) end(code int, reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.endLocked(code, reason)
}

func (s *Subscription) endLocked(code int, reason string) {
	if s.rec.State == SubscriptionTerminated {
		return
	}
	s.stopTimerLocked()
	s.planGen++
	s.rec.State, s.rec.Code, s.rec.Reason = SubscriptionTerminated, code, reason
	s.ep.subs.remove(s, s.keyLocked())
	close(s.done)
	s.log.Info("subscription terminated", "code", code, "reason", reason)
	s.emitLocked()
}

// Unsubscribe ends the subscription: a SUBSCRIBE with Expires 0, then the
// notifier's final NOTIFY, waited for at most RequestTimeout. It is safe
// to call more than once.
func (s *Subscription) Unsubscribe() error {
	ctx, cancel := context.WithTimeout(context.Background(), s.ep.opts.RequestTimeout)
	defer cancel()
	return s.unsubscribe(ctx)
}

func (s *Subscription) unsubscribe(ctx context.Context) error {
	s.mu.Lock()
	if s.rec.State == SubscriptionTerminated {
		s.mu.Unlock()
		return nil
	}
	s.unsubscribing = true
	s.stopTimerLocked()
	s.planGen++
	live := s.rec.Dialog.RemoteTag != "" && s.ep.clock.Now().Before(s.rec.ExpiresAt)
	s.mu.Unlock()
	if !live {
		s.end(0, "unsubscribed")
		return nil
	}
	res, err := s.send(false, 0)
	if err != nil || !res.IsSuccess() {
		s.end(0, "unsubscribed")
		if err != nil {
			return fmt.Errorf("sipua: unsubscribe: %w", err)
		}
		if res.StatusCode != sip.StatusCallTransactionDoesNotExists {
			return fmt.Errorf("sipua: unsubscribe: %d %s", res.StatusCode, res.Reason)
		}
		return nil
	}
	select {
	case <-s.done:
	case <-ctx.Done():
		s.end(0, "unsubscribed")
	}
	return nil
}

// endSubscriptions unsubscribes every subscription for Close, within ctx.
func (e *Endpoint) endSubscriptions(ctx context.Context) {
	var wg sync.WaitGroup
	for _, s := range e.subs.all() {
		wg.Go(func() {
			if err := s.unsubscribe(ctx); err != nil {
				s.log.Info("unsubscribe on close", "error", err)
			}
		})
	}
	wg.Wait()
}
