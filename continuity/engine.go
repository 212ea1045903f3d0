package continuity

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"
)

// Actuator carries out the machine's actions against the real world (the
// site-services clients and the SIP endpoint). The long ones run on their
// own goroutine and may report their steps through step; they must honour ctx.
type Actuator interface {
	// Connect reaches the site's Config Server and returns the preferred site (BC-9, BC-10).
	Connect(ctx context.Context, site int, step func(string)) (preferred int, err error)
	// Login logs in at site (BC-12), restoring state (BC-23).
	Login(ctx context.Context, site int, state AgentState, step func(string)) error
	// Switchover moves from one site to the other (BC-20), restoring state.
	Switchover(ctx context.Context, from, to int, state AgentState, step func(string)) error
	// Relaunch re-launches the SIP endpoint, keeping its calls (BC-18, BC-30).
	Relaunch(ctx context.Context, site int, step func(string)) error
	// Notify shows a notice, a warning or an alarm; Countdown shows (at zero
	// time: removes) when the named next step happens. They must not block.
	Notify(ActNotify)
	Countdown(what string, at time.Time)
}

// MaxTimelines bounds the timelines an Engine keeps: the last ones, the
// one under way always among them (it is the newest). A long session would
// gather them without end, and Timelines copies them all.
const MaxTimelines = 50

// Engine runs a Machine: one goroutine feeds it events, keeps its timer and
// hands its actions to the Actuator.
type Engine struct {
	m     *Machine
	clock Clock
	act   Actuator
	log   *slog.Logger
	in    chan Event

	mu        sync.Mutex
	timelines []Timeline
	// dropped counts the timelines dropped from the front: timelines[i]
	// is the session's timeline number dropped+i.
	dropped      int
	maxTimelines int // MaxTimelines; tests lower it
	running      int // the number of the timeline of the action in flight, or -1
	onChange     func()
	phase        Phase
	site         int
	wg           sync.WaitGroup
}

// NewEngine prepares an engine; Run drives it.
func NewEngine(cfg Config, act Actuator, clock Clock, log *slog.Logger) *Engine {
	if clock == nil {
		clock = SystemClock{}
	}
	if log == nil {
		log = slog.Default()
	}
	return &Engine{m: New(cfg), clock: clock, act: act, log: log, in: make(chan Event, 64), running: -1, maxTimelines: MaxTimelines}
}

// SetOnChange sets a function called after every event the engine handled
// and every step recorded, so that its user republishes Phase and Timelines
// without polling. Call it before Run; f must not block.
func (e *Engine) SetOnChange(f func()) { e.onChange = f }

func (e *Engine) changed() {
	if e.onChange != nil {
		e.onChange()
	}
}

// Post hands an event to the engine. It never blocks the caller for long:
// the queue is buffered and drained by Run.
func (e *Engine) Post(ev Event) { e.in <- ev }

// Phase and Site report the machine's state as of the last event handled.
func (e *Engine) Phase() (Phase, int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.phase, e.site
}

// Timelines returns the switchovers, re-launches and logins of the
// session, oldest first: the last MaxTimelines.
func (e *Engine) Timelines() []Timeline {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]Timeline, len(e.timelines))
	for i, t := range e.timelines {
		t.Steps = append([]Step(nil), t.Steps...)
		out[i] = t
	}
	return out
}

// SetTimeouts passes new site-timeout and site-sip-register-timeout values to the machine.
func (e *Engine) SetTimeouts(siteTimeout, sipRegisterTimeout time.Duration) {
	e.Post(setTimeouts{siteTimeout, sipRegisterTimeout})
}

type setTimeouts struct{ site, sip time.Duration }

func (setTimeouts) event() {}

// Run drives the machine until ctx ends, then waits for actions in flight.
func (e *Engine) Run(ctx context.Context) {
	defer e.wg.Wait()
	for {
		var timer <-chan time.Time
		if dl, ok := e.m.Deadline(); ok {
			timer = e.clock.After(max(dl.Sub(e.clock.Now()), 0))
		}
		select {
		case <-ctx.Done():
			return
		case ev := <-e.in:
			if st, ok := ev.(setTimeouts); ok {
				e.m.SetTimeouts(st.site, st.sip)
				continue
			}
			e.handle(ctx, ev)
		case now := <-timer:
			e.handle(ctx, Tick{Now: now})
		}
	}
}

func (e *Engine) handle(ctx context.Context, ev Event) {
	now := e.clock.Now()
	if t, ok := ev.(Tick); ok {
		now = t.Now
	}
	acts := e.m.Handle(ev, now)
	e.mu.Lock()
	e.phase, e.site = e.m.Phase(), e.m.Site()
	e.mu.Unlock()
	e.finish(ev, now)
	for _, a := range acts {
		e.do(ctx, a, now)
	}
	e.changed()
}

// finish closes the timeline in flight once the machine has settled: logged
// in (success), or waiting, logged out or idle (failure, with the event's error).
func (e *Engine) finish(ev Event, now time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.running < 0 {
		return
	}
	t := &e.timelines[e.running-e.dropped]
	var err error
	switch r := ev.(type) {
	case ConnectResult:
		err = r.Err
	case LoginResult:
		err = r.Err
	case RelaunchResult:
		err = r.Err
		t.Steps = append(t.Steps, Step{At: now, Name: "endpoint re-launched"})
	}
	if err != nil {
		t.Err = err.Error()
	}
	switch e.phase {
	case LoggedIn:
		t.Err = ""
	case Waiting, LoggedOut, Idle:
	default:
		return
	}
	t.Finished = now
	e.log.Info("continuity "+t.Kind+" finished", "trigger", t.Trigger, "from", t.From, "to", t.To,
		"site", e.site, "duration", t.Duration(), "err", t.Err, "steps", len(t.Steps))
	e.running = -1
}

// begin opens a timeline, or, while one is open, adds a step to it: a
// re-login after a re-launch, or the move to the preferred site at startup,
// belong to the timeline that led to them.
func (e *Engine) begin(kind, trigger string, from, to int, now time.Time) func(string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.running >= 0 {
		t := &e.timelines[e.running-e.dropped]
		t.Steps = append(t.Steps, Step{At: now, Name: kind + ": " + trigger})
		t.To = to
	} else {
		e.timelines = append(e.timelines, Timeline{Kind: kind, Trigger: trigger, From: from, To: to, Started: now})
		if over := len(e.timelines) - e.maxTimelines; over > 0 {
			e.timelines = slices.Delete(e.timelines, 0, over)
			e.dropped += over
		}
		e.running = e.dropped + len(e.timelines) - 1
		e.log.Info("continuity "+kind+" started", "trigger", trigger, "from", from, "to", to)
	}
	num := e.running
	return func(name string) {
		e.mu.Lock()
		// A step reported late, for a timeline dropped since, is lost.
		if i := num - e.dropped; i >= 0 {
			e.timelines[i].Steps = append(e.timelines[i].Steps, Step{At: e.clock.Now(), Name: name})
		}
		e.mu.Unlock()
		e.changed()
	}
}

func (e *Engine) do(ctx context.Context, a Action, now time.Time) {
	switch a := a.(type) {
	case ActNotify:
		e.act.Notify(a)
	case ActCountdown:
		e.act.Countdown(a.What, a.At)
	case ActCancelCountdown:
		e.act.Countdown(a.What, time.Time{})
	case ActConnect:
		step := e.begin("login", "start", 0, a.Site, now)
		e.async(func() {
			pref, err := e.act.Connect(ctx, a.Site, step)
			e.post(ctx, ConnectResult{Site: a.Site, Preferred: pref, Err: err})
		})
	case ActLogin:
		step := e.begin("login", "log in", a.Site, a.Site, now)
		e.async(func() {
			e.post(ctx, LoginResult{Site: a.Site, Err: e.act.Login(ctx, a.Site, a.State, step)})
		})
	case ActSwitchover:
		step := e.begin("switchover", a.Reason, a.From, a.To, now)
		e.async(func() {
			e.post(ctx, LoginResult{Site: a.To, Err: e.act.Switchover(ctx, a.From, a.To, a.State, step)})
		})
	case ActRelaunch:
		step := e.begin("relaunch", "dr-force_logout", a.Site, a.Site, now)
		e.async(func() {
			e.post(ctx, RelaunchResult{Err: e.act.Relaunch(ctx, a.Site, step)})
		})
	}
}

func (e *Engine) async(f func()) {
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		f()
	}()
}

// post reports a result unless the engine is stopping.
func (e *Engine) post(ctx context.Context, ev Event) {
	select {
	case e.in <- ev:
	case <-ctx.Done():
	}
}
