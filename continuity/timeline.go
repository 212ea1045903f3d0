package continuity

import "time"

// Step is one dated step of a switchover or a re-launch.
type Step struct {
	At   time.Time
	Name string
}

// Timeline records one switchover or endpoint re-launch: what triggered it,
// each step and its time, and how it ended. The session keeps them all.
type Timeline struct {
	Kind     string // "switchover", "relaunch" or "login"
	Trigger  string
	From, To int
	Started  time.Time
	Steps    []Step
	Finished time.Time // zero while running
	Err      string
}

// Duration is how long it took (so far).
func (t Timeline) Duration() time.Duration {
	if t.Finished.IsZero() {
		return 0
	}
	return t.Finished.Sub(t.Started)
}
