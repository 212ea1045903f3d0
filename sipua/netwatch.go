package sipua

import (
	"context"
	"slices"
	"strings"
	"time"
)

// watch re-registers every account at once when the machine's network
// addresses change (our binding may point at an address that is gone) or
// the machine wakes from sleep (our bindings may have expired meanwhile).
func (e *Endpoint) watch(ctx context.Context) {
	epoch := e.clock.Now()
	sample := func() clockSample {
		now := e.clock.Now()
		return clockSample{wall: now.Round(0), mono: now.Sub(epoch)}
	}
	interval := e.opts.WatchInterval
	prevClock, prevAddrs := sample(), e.addresses()
	for sleep(ctx, e.clock, interval) {
		curClock, curAddrs := sample(), e.addresses()
		switch {
		case clockJumped(prevClock, curClock, interval):
			e.registerAll("woke from sleep or the clock jumped")
		case curAddrs != "" && prevAddrs != "" && curAddrs != prevAddrs:
			e.registerAll("network addresses changed")
		}
		prevClock = curClock
		if curAddrs != "" {
			prevAddrs = curAddrs
		}
	}
}

func (e *Endpoint) registerAll(why string) {
	e.log.Info("registering every account", "why", why)
	for _, r := range e.regs {
		r.registerNow(why, false)
	}
}

// addresses lists the machine's addresses as one comparable string; empty
// when they cannot be read.
func (e *Endpoint) addresses() string {
	addrs, err := e.interfaceAddrs()
	if err != nil {
		e.log.Debug("interface addresses", "error", err)
		return ""
	}
	s := make([]string, len(addrs))
	for i, a := range addrs {
		s[i] = a.String()
	}
	slices.Sort(s)
	return strings.Join(s, " ")
}

// clockSample is a reading of the wall clock and of the monotonic time
// since the watch started.
type clockSample struct {
	wall time.Time
	mono time.Duration
}

// clockJumped reports a sleep or a clock step between two samples taken one
// interval apart. Where the monotonic clock stops during suspend (Linux)
// the wall clock runs ahead of it; where it does not, the timer that took
// the sample fires late. A stepped wall clock looks the same; registering
// again is harmless then.
func clockJumped(prev, cur clockSample, interval time.Duration) bool {
	mono := cur.mono - prev.mono
	wall := cur.wall.Sub(prev.wall)
	slack := max(interval, 2*time.Second)
	return wall-mono > slack || mono-wall > slack || mono > interval+slack
}
