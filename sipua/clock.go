package sipua

import "time"

// Clock is the endpoint's time source for its own timers (refresh, back-off,
// probes, the network watch), so tests can drive them without sleeping.
// sipgo's transaction timers always use the real clock.
type Clock interface {
	// Now returns the current time. The real clock's times carry a monotonic
	// reading, which the sleep detection compares with the wall clock.
	Now() time.Time
	// AfterFunc calls f in its own goroutine once d has passed.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a pending AfterFunc call.
type Timer interface {
	// Stop prevents the call; it reports false if the call already started.
	Stop() bool
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }
