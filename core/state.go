package core

import (
	"slices"
	"sync"
	"time"

	"github.com/tandem-softphone/tandem/continuity"
	"github.com/tandem-softphone/tandem/sipua"
)

// State is a snapshot of everything the agent sees. It is a plain value:
// Snapshot returns a copy that the caller may keep.
type State struct {
	User      string
	Phase     continuity.Phase
	Site      int // the site logged in at or being moved to; 0 when none
	Preferred int // the Person's preferred site, once read (BC-10)
	Agent     Agent
	Sites     [2]SiteState
	Statistic Statistic
	// Notices are the notices, warnings and alarms, oldest first; only the
	// last Options.MaxNotices are kept.
	Notices []Notice
	// Countdowns are the next steps planned: "switchover" (BC-13, BC-18) or
	// "next attempt" (BC-22), with when they happen.
	Countdowns []Countdown
	// Timelines are the logins, switchovers and re-launches of the run
	// (BC-20), oldest first: the last MaxTimelines.
	Timelines []continuity.Timeline
	// LoginError is why the last login failed; zero when it did not.
	LoginError LoginError
	// Calls are the calls in progress, oldest first.
	Calls []sipua.CallInfo
	// CallHistory are the calls that ended, oldest first (the last
	// maxHistory), this run's and, with Options.StateDir, the earlier
	// runs'; each says how it ended.
	CallHistory []sipua.CallInfo
	// SavedCalls are the calls an earlier run left connected when it
	// ended without hanging up (a crash), found at start: offer to
	// continue them (RestoreSavedCalls) or to forget them
	// (DiscardSavedCalls). BC-30.
	SavedCalls []SavedCall
	// Voicemail is the agent's voice messages (message-summary): the
	// current site's voicemail server's count, else the other site's.
	Voicemail Voicemail
}

// maxHistory bounds State.CallHistory.
const maxHistory = 100

// MaxTimelines bounds State.Timelines across the run's logins, as the
// engine bounds those of one: every snapshot copies them.
const MaxTimelines = continuity.MaxTimelines

// Agent is the agent's T-Server state at the current site.
type Agent struct {
	ID    string // the agent login id, from the Person
	DN    string // the DN at the current site (BC-3)
	Place string
	State string // wire.StateReady, StateNotReady, StateAfterCallWork, StateLoggedOut; "" before any
	// Reason is the NotReady reason code, or the ReasonCode of the last
	// EventAgentLogout (a supervisor's, BC-17).
	Reason string
}

// ServiceStatus is a site service's status as the desktop sees it.
type ServiceStatus string

// Service statuses. ServiceNone: the desktop holds no session with that
// service at that site (another site is current, or it has no Stat Server).
const (
	ServiceNone ServiceStatus = ""
	ServiceOn   ServiceStatus = "on"
	ServiceOff  ServiceStatus = "off"
)

// SiteState is one site as the desktop sees it.
type SiteState struct {
	Name          string
	SIP           Registration // the endpoint stays registered at both sites (BC-2)
	Telephony     ServiceStatus
	Configuration ServiceStatus
	Statistic     ServiceStatus
}

// Registration is the SIP endpoint's registration at one site.
type Registration struct {
	State  string // sipua.RegistrationState's name: "registered", "failed", …; "" before the endpoint starts
	Code   int    // the last final response's status; 0 when none came
	Reason string
}

// Statistic is the value shown to the agent (CallsHandledToday by default).
type Statistic struct {
	Name  string
	Value int64
	Known bool // a value has arrived
	// Site is the site whose Stat Server counted Value: each site counts
	// its own (after a switchover, the new site's value replaces it).
	Site int
}

// Notice is one notice, warning or alarm.
type Notice struct {
	Seq   uint64 // increases by one per notice: tells new ones from those seen
	At    time.Time
	Level continuity.Level
	Site  int // 0 when about no site
	Text  string
}

// Countdown is a step planned for a time.
type Countdown struct {
	What string
	At   time.Time
}

// ErrorKind classifies a LoginError for display.
type ErrorKind string

// Kinds of LoginError.
const (
	ErrorAuth               ErrorKind = "auth"                // wrong user name or password: ask again
	ErrorUnknownApplication ErrorKind = "unknown-application" // the local configuration names an application the site does not know
	ErrorUnreachable        ErrorKind = "unreachable"         // no site answered; retrying in the background
)

// LoginError is why a login failed.
type LoginError struct {
	Kind ErrorKind
	Text string
	At   time.Time
}

// clone copies the slices so that the snapshot does not share them.
func (s State) clone() State {
	s.Notices = slices.Clone(s.Notices)
	s.Countdowns = slices.Clone(s.Countdowns)
	s.Timelines = slices.Clone(s.Timelines)
	s.Calls = slices.Clone(s.Calls)
	s.CallHistory = slices.Clone(s.CallHistory)
	s.SavedCalls = slices.Clone(s.SavedCalls)
	return s
}

// subscriber is one Subscribe callback, called on its own goroutine with
// the latest snapshot whenever something changed since its last call.
type subscriber struct {
	signal chan struct{} // one token: changes are coalesced
	stop   chan struct{}
	once   sync.Once
}

func (s *subscriber) poke() {
	select {
	case s.signal <- struct{}{}:
	default:
	}
}

// Subscribe calls fn with a snapshot now and after every change, on a
// goroutine of its own, in order. Changes that happen while fn runs are
// coalesced into one call: the core never waits for fn, and fn always ends
// up seeing the latest state. Once the core has stopped, fn is called a last
// time. The returned function stops the calls; it may be called from fn.
func (c *Core) Subscribe(fn func(State)) (cancel func()) {
	sub := &subscriber{signal: make(chan struct{}, 1), stop: make(chan struct{})}
	c.mu.Lock()
	c.subs[sub] = struct{}{}
	c.mu.Unlock()
	sub.poke()
	go func() {
		for {
			last := false
			select {
			case <-sub.stop:
				return
			case <-sub.signal:
			case <-c.done:
				last = true
			}
			select {
			case <-sub.stop:
				return
			default:
			}
			fn(c.Snapshot())
			if last {
				return
			}
		}
	}()
	return func() {
		sub.once.Do(func() {
			c.mu.Lock()
			delete(c.subs, sub)
			c.mu.Unlock()
			close(sub.stop)
		})
	}
}

// publish tells every subscriber that something changed. It never blocks.
func (c *Core) publish() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for s := range c.subs {
		s.poke()
	}
}

// Snapshot returns the current state.
func (c *Core) Snapshot() State {
	c.mu.Lock()
	st := c.st.clone()
	vm := c.mwi.sites
	run := c.eng
	past := c.pastTimelines
	c.mu.Unlock()
	var cur []continuity.Timeline
	if run != nil {
		st.Phase, st.Site = run.e.Phase()
		cur = run.e.Timelines()
	}
	st.Timelines = lastTimelines(past, cur)
	st.Voicemail = pickVoicemail(vm, st.Site)
	c.liveMedia(st.Calls)
	return st
}

// lastTimelines is the last MaxTimelines of past then cur, in a new slice.
func lastTimelines(past, cur []continuity.Timeline) []continuity.Timeline {
	if n := len(past) + len(cur) - MaxTimelines; n > 0 {
		skip := min(n, len(past))
		past, cur = past[skip:], cur[n-skip:]
	}
	return append(slices.Clone(past), cur...)
}

// liveMedia brings the media counters of the calls up to now: the calls'
// events come when they change, not as their packets flow.
func (c *Core) liveMedia(calls []sipua.CallInfo) {
	if len(calls) == 0 {
		return
	}
	ep, err := c.anyEndpoint()
	if err != nil {
		return
	}
	for i := range calls {
		if call, ok := ep.Call(calls[i].ID); ok {
			if info := call.Info(); info.HasMedia {
				calls[i].HasMedia, calls[i].Media = true, info.Media
			}
		}
	}
}
