package gui

import (
	"context"

	"github.com/tandem-softphone/tandem/core"
)

// Backend is what the GUI drives: the application core. The GUI renders its
// State and hands it the agent's intents; it decides nothing itself.
type Backend interface {
	Snapshot() core.State
	// Subscribe calls fn with the latest State after every change, on a
	// goroutine of the backend's; the returned function stops the calls.
	Subscribe(fn func(core.State)) (cancel func())

	// Login logs in at site: 0 the preferred one, 1 or 2 that site.
	Login(ctx context.Context, user, password string, site int) error
	Ready(ctx context.Context) error
	NotReady(ctx context.Context, reason string) error
	AfterCallWork(ctx context.Context) error
	Logout(ctx context.Context) error
	SwitchSite() error

	// The intents on a call of State.Calls, named by its ID.
	Answer(id string) error
	Reject(id string) error
	Hangup(id string) error
	Hold(id string) error
	Resume(id string) error
	Mute(id string, on bool) error
	SendDTMF(id, digits string) error
	Transfer(id, target string) error
	AttendedTransfer(id, consultID string) error

	// The calls an earlier run left connected (State.SavedCalls, BC-30):
	// continue them in this run, or forget them.
	RestoreSavedCalls() error
	DiscardSavedCalls() error

	// Tester actions.
	ExpireRegistration(site int) error
	Relaunch(site int) error
	Quit(ctx context.Context) error
}

// Dialer is implemented by a backend that can place calls. The call button
// is enabled only when the backend is one.
type Dialer interface {
	Dial(ctx context.Context, number string) error
}

// The application core is the GUI's backend.
var _ Backend = (*core.Core)(nil)
