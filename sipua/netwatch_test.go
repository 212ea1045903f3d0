package sipua

import (
	"context"
	"net"
	"slices"
	"sync"
	"testing"
	"time"
)

func TestClockJumped(t *testing.T) {
	base := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	at := func(wall, mono time.Duration) clockSample {
		return clockSample{wall: base.Add(wall), mono: mono}
	}
	const interval = 3 * time.Second
	prev := at(0, 0)
	for _, tc := range []struct {
		name string
		cur  clockSample
		want bool
	}{
		{"on time", at(interval, interval), false},
		{"a little late", at(interval+time.Second, interval+time.Second), false},
		{"suspended, monotonic clock stopped (Linux)", at(interval+time.Hour, interval), true},
		{"suspended, monotonic clock ran on", at(interval+time.Hour, interval+time.Hour), true},
		{"wall clock stepped back", at(interval-time.Hour, interval), true},
		{"small wall clock correction", at(interval+time.Second, interval), false},
	} {
		if got := clockJumped(prev, tc.cur, interval); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// A change of the machine's addresses registers every account at once.
func TestNetworkChangeReregisters(t *testing.T) {
	s := startSite(t, "site1.test", nil)
	opts := fastOptions(s.account("site1", TransportUDP, "1001"), s.account("site2", TransportTCP, "2001"))
	opts.WatchInterval = 50 * time.Millisecond
	e, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	addrs := []net.Addr{&net.IPNet{IP: net.ParseIP("192.0.2.10"), Mask: net.CIDRMask(24, 32)}}
	e.interfaceAddrs = func() ([]net.Addr, error) {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(addrs), nil
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	first := map[string]Registration{
		"site1": waitState(t, e, "site1", RegistrationRegistered, 5*time.Second),
		"site2": waitState(t, e, "site2", RegistrationRegistered, 5*time.Second),
	}
	time.Sleep(4 * opts.WatchInterval) // unchanged addresses: nothing happens
	for site, reg := range first {
		if now, _ := e.Registration(site); !now.ExpiresAt.Equal(reg.ExpiresAt) {
			t.Fatalf("%s registered again without a change", site)
		}
	}

	mu.Lock()
	addrs = append(addrs, &net.IPNet{IP: net.ParseIP("198.51.100.7"), Mask: net.CIDRMask(24, 32)})
	mu.Unlock()
	for site, reg := range first {
		eventually(t, site+" registered again", func() bool {
			now, _ := e.Registration(site)
			return now.State == RegistrationRegistered && now.ExpiresAt.After(reg.ExpiresAt)
		})
	}
}

// A watch tick that comes far too late means the machine slept: every
// account registers again at once.
func TestWakeFromSleepReregisters(t *testing.T) {
	s := startSite(t, "site1.test", nil)
	clock := newFakeClock()
	opts := fastOptions(s.account("site1", TransportUDP, "1001"))
	opts.Clock = clock
	opts.WatchInterval = time.Second
	opts.ProbeInterval = time.Hour
	e, _ := startEndpoint(t, opts)
	first := waitState(t, e, "site1", RegistrationRegistered, 5*time.Second)
	if want := clock.Now().Add(60 * time.Second); !first.ExpiresAt.Equal(want) {
		t.Fatalf("expires at %v, want %v", first.ExpiresAt, want)
	}

	clock.Advance(20 * time.Second) // before the refresh at 30 s
	eventually(t, "registered again", func() bool {
		reg, _ := e.Registration("site1")
		return reg.ExpiresAt.Equal(first.ExpiresAt.Add(20 * time.Second))
	})
}

// fakeClock is a Clock that moves only when told.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	clock *fakeClock
	at    time.Time
	f     func()
	done  bool
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{clock: c, at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return t
}

func (t *fakeTimer) Stop() bool {
	t.clock.mu.Lock()
	defer t.clock.mu.Unlock()
	was := !t.done
	t.done = true
	return was
}

// Advance moves the clock and runs the timers that fall due, each in its
// own goroutine as time.AfterFunc would.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	pending := c.timers[:0]
	for _, t := range c.timers {
		switch {
		case t.done:
		case !t.at.After(c.now):
			t.done = true
			go t.f()
		default:
			pending = append(pending, t)
		}
	}
	c.timers = pending
}
