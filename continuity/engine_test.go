package continuity

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/tandem-softphone/tandem/wire"
)

// fakeClock fires After channels when Advance passes their time.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []waiter
}

type waiter struct {
	at time.Time
	ch chan time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	c.waiters = append(c.waiters, waiter{c.now.Add(d), ch})
	return ch
}

// armed waits until the engine has armed a timer for at: the engine handles
// events on its own goroutine, and time must not pass before it has.
func (c *fakeClock) armed(t *testing.T, at time.Time) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		c.mu.Lock()
		for _, w := range c.waiters {
			if w.at.Equal(at) {
				c.mu.Unlock()
				return
			}
		}
		c.mu.Unlock()
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("no timer armed for %v", at)
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	keep := c.waiters[:0]
	for _, w := range c.waiters {
		if !w.at.After(c.now) {
			w.ch <- w.at
		} else {
			keep = append(keep, w)
		}
	}
	c.waiters = keep
	c.mu.Unlock()
}

// siteActuator acts on two in-memory sites whose availability the test sets:
// it is the engine's counterpart, not the application core.
type siteActuator struct {
	clock *fakeClock
	mu    sync.Mutex
	down  [2]bool
	calls []string
	notes []ActNotify
	done  chan string
}

func (a *siteActuator) record(s string) {
	a.mu.Lock()
	a.calls = append(a.calls, s)
	a.mu.Unlock()
	a.done <- s
}

func (a *siteActuator) isDown(site int) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.down[site-1]
}

func (a *siteActuator) Connect(_ context.Context, site int, step func(string)) (int, error) {
	defer a.record("connect")
	step("config server")
	if a.isDown(site) {
		return 0, errors.New("unreachable")
	}
	return 1, nil
}

func (a *siteActuator) Login(_ context.Context, site int, _ AgentState, step func(string)) error {
	defer a.record("login")
	step("agent login")
	if a.isDown(site) {
		return errors.New("unreachable")
	}
	return nil
}

func (a *siteActuator) Switchover(_ context.Context, _, to int, _ AgentState, step func(string)) error {
	defer a.record("switchover")
	for _, s := range []string{"tear down", "connect", "register DN", "agent login"} {
		step(s)
	}
	if a.isDown(to) {
		return errors.New("unreachable")
	}
	return nil
}

func (a *siteActuator) Relaunch(_ context.Context, _ int, step func(string)) error {
	defer a.record("relaunch")
	step("store calls")
	return nil
}

func (a *siteActuator) Notify(n ActNotify) {
	a.mu.Lock()
	a.notes = append(a.notes, n)
	a.mu.Unlock()
}

func (a *siteActuator) Countdown(string, time.Time) {}

func (a *siteActuator) wait(t *testing.T, want string) {
	t.Helper()
	select {
	case got := <-a.done:
		if got != want {
			t.Fatalf("actuator did %s, want %s", got, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("actuator never did %s", want)
	}
}

func waitPhase(t *testing.T, e *Engine, phase Phase, site int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if p, s := e.Phase(); p == phase && s == site {
			return
		}
		time.Sleep(time.Millisecond)
	}
	p, s := e.Phase()
	t.Fatalf("phase %v site %d, want %v site %d", p, s, phase, site)
}

func startEngine(t *testing.T, cfg Config) (*Engine, *siteActuator, *fakeClock) {
	clock := &fakeClock{now: t0}
	act := &siteActuator{clock: clock, done: make(chan string, 16)}
	e := NewEngine(cfg, act, clock, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { e.Run(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait() })
	e.Post(Start{})
	act.wait(t, "connect")
	act.wait(t, "login")
	waitPhase(t, e, LoggedIn, 1)
	return e, act, clock
}

// BC-13 through the engine's own timer: the outage outlasts site-timeout on
// the injected clock, and the switchover is recorded as a timeline.
func TestEngineTelephonyTimeout(t *testing.T) {
	e, act, clock := startEngine(t, cfg30)
	e.Post(ServiceChanged{Site: 1, Service: Telephony, On: false})
	clock.armed(t, t0.Add(30*time.Second))
	clock.Advance(29 * time.Second)
	if p, _ := e.Phase(); p != LoggedIn {
		t.Fatalf("switched before site-timeout: %v", p)
	}
	act.mu.Lock()
	act.down[0] = true
	act.mu.Unlock()
	clock.Advance(time.Second)
	act.wait(t, "switchover")
	waitPhase(t, e, LoggedIn, 2)
	tl := e.Timelines()
	last := tl[len(tl)-1]
	if last.Kind != "switchover" || last.From != 1 || last.To != 2 || last.Err != "" || len(last.Steps) != 4 || last.Finished.IsZero() {
		t.Fatalf("timeline %+v", last)
	}
}

// BC-18 through the engine: the re-launch timeline runs from dr-force_logout
// to the login again.
func TestEngineRelaunchTimeline(t *testing.T) {
	e, act, _ := startEngine(t, cfg30)
	e.Post(AgentLoggedOut{Site: 1, ReasonCode: wire.ReasonDRForceLogout})
	act.wait(t, "relaunch")
	e.Post(DNBackInService{Site: 1})
	act.wait(t, "login")
	waitPhase(t, e, LoggedIn, 1)
	tl := e.Timelines()
	last := tl[len(tl)-1]
	if last.Kind != "relaunch" || last.Finished.IsZero() || len(last.Steps) < 3 {
		t.Fatalf("timeline %+v", last)
	}
}

// BC-22 through the engine: both sites down, retries on the injected clock
// until one returns.
func TestEngineBothSitesDown(t *testing.T) {
	e, act, clock := startEngine(t, Config{SiteTimeout: 30 * time.Second, MinBackoff: time.Second, MaxBackoff: 4 * time.Second})
	act.mu.Lock()
	act.down = [2]bool{true, true}
	act.mu.Unlock()
	e.Post(AgentLoggedOut{Site: 1, ReasonCode: wire.ReasonGracefulShutdownLogout})
	act.wait(t, "switchover")
	waitPhase(t, e, Waiting, 2)
	clock.armed(t, t0.Add(time.Second))
	clock.Advance(time.Second)
	act.wait(t, "switchover") // back to site 1: fails
	waitPhase(t, e, Waiting, 1)
	act.mu.Lock()
	act.down = [2]bool{true, false}
	act.mu.Unlock()
	clock.armed(t, t0.Add(3*time.Second))
	clock.Advance(2 * time.Second)
	act.wait(t, "switchover") // site 2 again: it is back
	waitPhase(t, e, LoggedIn, 2)
	failed := 0
	for _, tl := range e.Timelines() {
		if tl.Err != "" {
			failed++
		}
	}
	if failed != 2 {
		t.Fatalf("%d failed timelines, want 2: %+v", failed, e.Timelines())
	}
}

// The engine keeps the last MaxTimelines timelines (here lowered to 3),
// the one under way always among them, and its steps still reach it after
// older ones were dropped; Timelines copies no more than that.
func TestEngineTimelinesCapped(t *testing.T) {
	e, act, _ := startEngine(t, cfg30)
	e.mu.Lock()
	e.maxTimelines = 3
	e.mu.Unlock()
	for i := range 6 {
		e.Post(AgentLoggedOut{Site: 1, ReasonCode: wire.ReasonDRForceLogout})
		act.wait(t, "relaunch")
		if i == 5 {
			// Under way: the newest, unfinished, kept.
			tl := e.Timelines()
			if len(tl) != 3 || tl[2].Kind != "relaunch" || !tl[2].Finished.IsZero() {
				t.Fatalf("during the 6th re-launch: %d timelines, last %+v", len(tl), tl[len(tl)-1])
			}
		}
		e.Post(DNBackInService{Site: 1})
		act.wait(t, "login")
		waitPhase(t, e, LoggedIn, 1)
		deadline := time.Now().Add(5 * time.Second)
		for {
			tl := e.Timelines()
			if last := tl[len(tl)-1]; last.Kind == "relaunch" && !last.Finished.IsZero() {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("re-launch %d: not finished", i)
			}
			time.Sleep(time.Millisecond)
		}
	}
	tl := e.Timelines()
	if len(tl) != 3 {
		t.Fatalf("%d timelines kept, want 3", len(tl))
	}
	for _, tt := range tl {
		// The first timeline (the login) is gone; each re-launch kept its
		// steps up to the login again.
		if tt.Kind != "relaunch" || tt.Finished.IsZero() || len(tt.Steps) < 3 {
			t.Fatalf("timeline %+v", tt)
		}
	}
	e.mu.Lock()
	dropped := e.dropped
	e.mu.Unlock()
	if dropped != 4 {
		t.Fatalf("dropped %d, want 4 (1 login + 6 re-launches - 3)", dropped)
	}
}
