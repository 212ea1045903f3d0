package registrar

import (
	"errors"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
)

// Reasons carried by a Change.
const (
	ReasonRegistered   = "registered"   // the DN's first contact was bound
	ReasonUnregistered = "unregistered" // the DN's last contact was removed by a REGISTER
	ReasonExpired      = "expired"      // the DN's last contact expired, or Expire was called
)

// Change reports that a DN went from unregistered to registered or back.
// Refreshes and changes among a registered DN's contacts are not reported.
type Change struct {
	DN         string
	Registered bool
	Reason     string
	// Contact is the contact URI that was bound first, or removed last.
	Contact string
}

// Binding is one contact of a DN at a moment.
type Binding struct {
	DN        string
	Contact   string        // contact URI
	Expires   time.Duration // remaining lifetime
	Transport string        // "UDP" or "TCP"
	Source    string        // host:port the REGISTER came from
}

// contact is a bound contact. It is never modified once stored: a refresh
// stores a new one, so an expiry timer that fires late finds its contact
// gone and does nothing.
type contact struct {
	dn        string
	hdr       *sip.ContactHeader // as registered, without an expires parameter
	key       string
	expiresAt time.Time
	callID    string
	cseq      uint32
	transport string
	source    string
	timer     Timer
}

func (c *contact) binding(now time.Time) Binding {
	return Binding{
		DN:        c.dn,
		Contact:   c.hdr.Address.String(),
		Expires:   max(c.expiresAt.Sub(now), 0),
		Transport: c.transport,
		Source:    c.source,
	}
}

// contactUpdate is one Contact of a REGISTER; expires 0 removes it.
type contactUpdate struct {
	hdr     *sip.ContactHeader
	expires time.Duration
}

// registration is what a REGISTER asks for, already validated.
type registration struct {
	dn        string
	callID    string
	cseq      uint32
	transport string
	source    string
	wildcard  bool // Contact: * with Expires: 0
	contacts  []contactUpdate
}

var (
	errOutOfOrder = errors.New("CSeq out of order for an existing binding")
	errClosed     = errors.New("registrar closed")
)

// contactKey identifies a contact URI. URI equality (RFC 3261 §19.1.4) is
// approximated by the URI text with the case-insensitive parts lowered.
func contactKey(u *sip.Uri) string {
	k := *u
	k.Scheme = strings.ToLower(k.Scheme)
	k.Host = strings.ToLower(k.Host)
	return k.String()
}

// apply performs a REGISTER atomically (RFC 3261 §10.3 steps 7 and 8) and
// returns the DN's contacts after it.
func (r *Registrar) apply(reg registration) ([]*contact, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, errClosed
	}
	current := r.aors[reg.dn]

	// Step 7: a request older than the one that made a binding must not
	// change it. Check everything before changing anything.
	stale := func(c *contact) bool { return c.callID == reg.callID && reg.cseq <= c.cseq }
	if reg.wildcard {
		if slices.ContainsFunc(current, stale) {
			return nil, errOutOfOrder
		}
	} else {
		for _, u := range reg.contacts {
			key := contactKey(&u.hdr.Address)
			if i := slices.IndexFunc(current, func(c *contact) bool { return c.key == key }); i >= 0 && stale(current[i]) {
				return nil, errOutOfOrder
			}
		}
	}

	wasRegistered := len(current) > 0
	var lastRemoved *contact
	remove := func(i int) {
		current[i].timer.Stop()
		lastRemoved = current[i]
		current = slices.Delete(current, i, i+1)
	}
	if reg.wildcard {
		for len(current) > 0 {
			remove(len(current) - 1)
		}
	}
	now := r.clock.Now()
	for _, u := range reg.contacts {
		key := contactKey(&u.hdr.Address)
		i := slices.IndexFunc(current, func(c *contact) bool { return c.key == key })
		if u.expires == 0 {
			if i >= 0 {
				remove(i)
			}
			continue
		}
		c := &contact{
			dn:        reg.dn,
			hdr:       u.hdr,
			key:       key,
			expiresAt: now.Add(u.expires),
			callID:    reg.callID,
			cseq:      reg.cseq,
			transport: reg.transport,
			source:    reg.source,
		}
		c.timer = r.clock.AfterFunc(u.expires, func() { r.expire(c) })
		if i >= 0 {
			current[i].timer.Stop()
			current[i] = c
		} else {
			current = append(current, c)
		}
	}

	if len(current) == 0 {
		delete(r.aors, reg.dn)
	} else {
		r.aors[reg.dn] = current
	}
	switch {
	case !wasRegistered && len(current) > 0:
		r.notify(Change{DN: reg.dn, Registered: true, Reason: ReasonRegistered, Contact: current[0].hdr.Address.String()})
	case wasRegistered && len(current) == 0:
		r.notify(Change{DN: reg.dn, Registered: false, Reason: ReasonUnregistered, Contact: lastRemoved.hdr.Address.String()})
	}
	return slices.Clone(current), nil
}

// contacts returns the DN's current contacts (for a query REGISTER).
func (r *Registrar) contacts(dn string) []*contact {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.aors[dn])
}

// expire is the timer callback of contact c.
func (r *Registrar) expire(c *contact) {
	r.mu.Lock()
	defer r.mu.Unlock()
	current := r.aors[c.dn]
	i := slices.Index(current, c)
	if i < 0 {
		return // refreshed or removed since the timer was set
	}
	current = slices.Delete(current, i, i+1)
	if len(current) > 0 {
		r.aors[c.dn] = current
		return
	}
	delete(r.aors, c.dn)
	r.notify(Change{DN: c.dn, Registered: false, Reason: ReasonExpired, Contact: c.hdr.Address.String()})
}

// Expire drops all contacts of dn at once, as if they had expired, and
// reports Reason "expired". It returns false if dn was not registered.
func (r *Registrar) Expire(dn string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	current := r.aors[dn]
	if len(current) == 0 {
		return false
	}
	for _, c := range current {
		c.timer.Stop()
	}
	delete(r.aors, dn)
	r.notify(Change{DN: dn, Registered: false, Reason: ReasonExpired, Contact: current[len(current)-1].hdr.Address.String()})
	return true
}

// Bindings returns every contact of every DN, sorted by DN, each DN's
// contacts in the order they were first bound.
func (r *Registrar) Bindings() []Binding {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.clock.Now()
	var out []Binding
	for _, cs := range r.aors {
		for _, c := range cs {
			out = append(out, c.binding(now))
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].DN < out[j].DN })
	return out
}

// Lookup returns the contacts bound to dn, nil if it is not registered.
func (r *Registrar) Lookup(dn string) []Binding {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.clock.Now()
	var out []Binding
	for _, c := range r.aors[dn] {
		out = append(out, c.binding(now))
	}
	return out
}

// stopTimers stops every expiry timer for Close.
func (r *Registrar) stopTimers() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	for _, cs := range r.aors {
		for _, c := range cs {
			c.timer.Stop()
		}
	}
}

// notify queues a Change. Callers hold r.mu, so changes are queued in the
// order they happened; the notifier calls OnChange without any lock held.
func (r *Registrar) notify(ch Change) {
	r.log.Info("registration change", "dn", ch.DN, "registered", ch.Registered, "reason", ch.Reason, "contact", ch.Contact)
	r.notifier.push(ch)
}

// notifier delivers Changes to OnChange, in order, from its own goroutine,
// so that OnChange may call back into the Registrar.
type notifier struct {
	fn func(Change)

	mu      sync.Mutex
	queue   []Change
	stopped bool
	wake    chan struct{}
	done    chan struct{}
}

func newNotifier(fn func(Change)) *notifier {
	return &notifier{fn: fn, wake: make(chan struct{}, 1), done: make(chan struct{})}
}

func (n *notifier) push(ch Change) {
	if n.fn == nil {
		return
	}
	n.mu.Lock()
	if !n.stopped {
		n.queue = append(n.queue, ch)
	}
	n.mu.Unlock()
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

func (n *notifier) run() {
	defer close(n.done)
	for {
		n.mu.Lock()
		batch, stopped := n.queue, n.stopped
		n.queue = nil
		n.mu.Unlock()
		for _, ch := range batch {
			n.fn(ch)
		}
		if len(batch) > 0 {
			continue
		}
		if stopped {
			return
		}
		<-n.wake
	}
}

// stop delivers what is queued, then ends run.
func (n *notifier) stop() {
	n.mu.Lock()
	n.stopped = true
	n.mu.Unlock()
	select {
	case n.wake <- struct{}{}:
	default:
	}
	<-n.done
}
