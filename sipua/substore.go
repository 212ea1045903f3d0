package sipua

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// The subscription buffer (BC-25…BC-29) has the frame of the call buffer
// with its own magic and version; docs/call-buffer.md lays it out.

var (
	// ErrSubscriptionState: the subscription is not ACTIVE, so it cannot
	// be stored.
	ErrSubscriptionState = errors.New("sipua: subscription not active")
	// ErrSubscriptionExists: the buffer's subscription, or its dialog, is
	// already in the endpoint.
	ErrSubscriptionExists = errors.New("sipua: subscription already in the endpoint")
)

// ReasonStored is SubscriptionInfo.Reason of a subscription that ended
// here because Store handed it over to a buffer.
const ReasonStored = "stored"

const (
	subMagic   = "TNDMSUBS"
	subVersion = 1
)

// storedSubscription is everything a restored subscription is rebuilt
// from.
type storedSubscription struct {
	ID      string
	Site    string
	User    string // the account's DN, to check the restoring endpoint
	Event   string
	Target  string
	State   SubscriptionState
	Expires time.Duration // asked for
	// ExpiresAt is when the granted lifetime ends, Next when the refresh
	// was due (zero: none was planned).
	ExpiresAt time.Time
	Next      time.Time
	Body      []byte // the last NOTIFY body, nil before one came
	Dialog    DialogState
}

// Tags of the subscription record.
const (
	tagSubID = iota + 1
	tagSubSite
	tagSubUser
	tagSubEvent
	tagSubTarget
	tagSubState
	tagSubExpires
	tagSubExpiresAt
	tagSubNext
	tagSubBody
	tagSubDialog = 20
)

func appendSubscriptionBuffer(dst []byte, rec *storedSubscription) []byte {
	var w tlvWriter
	w.str(tagSubID, rec.ID)
	w.str(tagSubSite, rec.Site)
	w.str(tagSubUser, rec.User)
	w.str(tagSubEvent, rec.Event)
	w.str(tagSubTarget, rec.Target)
	w.u8(tagSubState, uint8(rec.State))
	w.i64(tagSubExpires, int64(rec.Expires))
	w.time(tagSubExpiresAt, rec.ExpiresAt)
	w.time(tagSubNext, rec.Next)
	if len(rec.Body) > 0 {
		w.bytes(tagSubBody, rec.Body)
	}
	w.nested(tagSubDialog, func(w *tlvWriter) { writeDialog(w, &rec.Dialog) })
	return appendFrame(dst, subMagic, subVersion, 0, w.b)
}

// decodeSubscriptionBuffer reads a subscription buffer of this or an
// older version.
func decodeSubscriptionBuffer(buf []byte) (*storedSubscription, error) {
	version, _, payload, err := readFrame(buf, subMagic)
	if err != nil {
		return nil, err
	}
	if version != subVersion {
		return nil, fmt.Errorf("%w: subscription version %d, this build reads %d", ErrBufferVersion, version, subVersion)
	}
	r := &tlvReader{}
	f := r.parse(payload)
	rec := &storedSubscription{
		ID:        f.str(tagSubID),
		Site:      f.str(tagSubSite),
		User:      f.str(tagSubUser),
		Event:     f.str(tagSubEvent),
		Target:    f.str(tagSubTarget),
		State:     SubscriptionState(r.u8(f, tagSubState)),
		Expires:   time.Duration(r.i64(f, tagSubExpires)),
		ExpiresAt: r.time(f, tagSubExpiresAt),
		Next:      r.time(f, tagSubNext),
		Body:      f.bytes(tagSubBody),
	}
	readDialog(r, r.parse(f.one(tagSubDialog)), &rec.Dialog)
	if r.err == nil {
		r.err = checkSubscription(rec)
	}
	if r.err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBufferDamaged, r.err)
	}
	return rec, nil
}

// checkSubscription refuses a record that cannot be an active
// subscription.
func checkSubscription(rec *storedSubscription) error {
	d := &rec.Dialog
	switch {
	case rec.ID == "" || rec.Site == "" || rec.Event == "" || rec.Target == "":
		return errors.New("no subscription ID, site, event or target")
	case rec.State != SubscriptionActive:
		return fmt.Errorf("subscription state %v is not active", rec.State)
	case rec.Expires < time.Second:
		return fmt.Errorf("subscription lifetime %v", rec.Expires)
	case rec.ExpiresAt.IsZero():
		return errors.New("subscription without an expiry")
	case d.CallID == "" || d.LocalTag == "" || d.RemoteTag == "":
		return errors.New("dialog without Call-ID or tags")
	case d.LocalURI == "" || d.RemoteURI == "" || d.RemoteTarget == "" || d.LocalContact == "":
		return errors.New("dialog without addresses")
	}
	return nil
}

// StorageSize is the size of the buffer Store would write for the
// subscription now (BC-26). Only an ACTIVE subscription can be stored.
func (s *Subscription) StorageSize() (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rec.State != SubscriptionActive {
		return 0, fmt.Errorf("sipua: storage size of subscription %s (%v): %w", s.rec.ID, s.rec.State, ErrSubscriptionState)
	}
	return len(appendSubscriptionBuffer(nil, s.storedLocked())), nil
}

// Store hands the subscription over to a buffer (BC-25): it appends to
// dst everything a fresh endpoint needs to continue it
// (RestoreSubscription) and returns the extended slice. Only an ACTIVE
// subscription can be stored (ErrSubscriptionState), and not while a
// SUBSCRIBE of it is under way (ErrBusy).
//
// The subscription leaves this endpoint without any signalling: no
// unsubscribe, no timer; it ends with Reason ReasonStored. The notifier
// sees nothing: its NOTIFYs go to the stored Contact, where the restoring
// endpoint must listen.
func (s *Subscription) Store(dst []byte) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.rec.State != SubscriptionActive || s.unsubscribing:
		return dst, fmt.Errorf("sipua: store subscription %s (%v): %w", s.rec.ID, s.rec.State, ErrSubscriptionState)
	case s.sending > 0:
		return dst, fmt.Errorf("sipua: store subscription %s: %w", s.rec.ID, ErrBusy)
	}
	rec := s.storedLocked()
	s.endLocked(0, ReasonStored)
	s.log.Info("subscription stored", "cseq", rec.Dialog.LocalCSeq, "expires", rec.ExpiresAt)
	return appendSubscriptionBuffer(dst, rec), nil
}

// storedLocked is the subscription as a buffer records it. s.mu is held.
func (s *Subscription) storedLocked() *storedSubscription {
	rec := &storedSubscription{
		ID:        s.rec.ID,
		Site:      s.rec.Site,
		User:      s.reg.acct.User,
		Event:     s.rec.Event,
		Target:    s.rec.Target,
		State:     s.rec.State,
		Expires:   s.rec.Expires,
		ExpiresAt: s.rec.ExpiresAt,
		Next:      s.next,
		Body:      append([]byte(nil), s.body...),
		Dialog:    s.rec.Dialog,
	}
	rec.Dialog.RouteSet = append([]string(nil), s.rec.Dialog.RouteSet...)
	return rec
}

// RestoreSubscription rebuilds a subscription from a buffer of
// Subscription.Store (BC-25): it is ACTIVE at once, on the same dialog
// (Call-ID, tags, route set, the next CSeq), takes the notifier's
// NOTIFYs, and refreshes when the stored plan said (at once if that time
// has passed; as a new subscription if the lifetime ran out meanwhile).
// pkg implements the buffer's event package; nil takes the built-in
// package of that name. The endpoint must be started and have an account
// of the buffer's site and DN, listening where the stored Contact points.
func (e *Endpoint) RestoreSubscription(buf []byte, pkg EventPackage) (*Subscription, error) {
	rec, err := decodeSubscriptionBuffer(buf)
	if err != nil {
		return nil, err
	}
	r, err := e.restoreAccount("subscription", rec.ID, rec.Site, rec.User)
	if err != nil {
		return nil, err
	}
	if pkg == nil {
		pkg = builtinPackages[strings.ToLower(rec.Event)]
	}
	if pkg == nil || !strings.EqualFold(pkg.Name(), rec.Event) {
		return nil, fmt.Errorf("sipua: restore subscription %s: no event package %q", rec.ID, rec.Event)
	}
	s := &Subscription{
		ep:   e,
		reg:  r,
		pkg:  pkg,
		done: make(chan struct{}),
		rec: subscriptionRecord{
			ID:        rec.ID,
			Site:      rec.Site,
			Event:     pkg.Name(),
			Target:    rec.Target,
			Dialog:    rec.Dialog,
			Expires:   rec.Expires,
			ExpiresAt: rec.ExpiresAt,
			State:     SubscriptionActive,
		},
		body: rec.Body,
	}
	s.log = e.log.With("subscription", s.rec.ID, "event", s.rec.Event, "site", r.acct.Site)
	if len(rec.Body) > 0 {
		if s.content, err = pkg.Parse(rec.Body); err != nil {
			// The body was accepted when it came; a package that reads it
			// differently now leaves the content to the next NOTIFY.
			s.log.Info("stored NOTIFY body unreadable", "error", err)
			s.content, s.body = nil, nil
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if !e.subs.addNew(s, s.keyLocked()) {
		return nil, fmt.Errorf("sipua: restore subscription %s (Call-ID %s): %w", s.rec.ID, s.rec.Dialog.CallID, ErrSubscriptionExists)
	}
	now := e.clock.Now()
	due := rec.Next
	if due.IsZero() {
		due = now.Add(rec.ExpiresAt.Sub(now) / 2)
	}
	s.planLocked(max(due.Sub(now), 0))
	s.log.Info("subscription restored", "cseq", s.rec.Dialog.LocalCSeq, "expires", s.rec.ExpiresAt, "refresh", s.next)
	s.emitLocked()
	return s, nil
}

// addNew adds s unless its ID or dialog is known, and reports whether it
// did.
func (ss *subscriptions) addNew(s *Subscription, k dialogKey) bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if _, taken := ss.byID[s.rec.ID]; taken {
		return false
	}
	if _, taken := ss.byDialog[k]; taken {
		return false
	}
	if ss.byID == nil {
		ss.byID = make(map[string]*Subscription)
		ss.byDialog = make(map[dialogKey]*Subscription)
	}
	ss.byID[s.rec.ID] = s
	ss.byDialog[k] = s
	return true
}
