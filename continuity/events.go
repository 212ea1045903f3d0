package continuity

import "time"

// Service is one of the three site services a desktop watches.
type Service int

// The services (the seed's TELEPHONY, CONFIG, STAT).
const (
	Telephony Service = iota
	Configuration
	Statistic
)

func (s Service) String() string {
	switch s {
	case Telephony:
		return "telephony"
	case Configuration:
		return "configuration"
	}
	return "statistic"
}

// AgentState is the agent's state to restore after a re-login or a switchover (BC-23).
type AgentState struct {
	Kind   string // wire.StateReady, StateNotReady, StateAfterCallWork
	Reason string // NotReady reason code
}

// Event is an input of the machine.
type Event interface{ event() }

// Start asks the machine to log the agent in (BC-9..BC-12).
type Start struct{}

// ConnectResult reports an ActConnect: the site's Config Server answered (or
// not), and which site the Person prefers (BC-10).
type ConnectResult struct {
	Site      int
	Preferred int // 1 or 2; 0 when the Person names none
	Err       error
}

// LoginResult reports an ActLogin or an ActSwitchover: the agent is logged in
// at Site, or the attempt failed.
type LoginResult struct {
	Site int
	Err  error
}

// ServiceChanged is a service's status at a site turning ON or OFF.
type ServiceChanged struct {
	Site    int
	Service Service
	On      bool
}

// AgentLoggedOut is EventAgentLogout at a site, with its ReasonCode.
type AgentLoggedOut struct {
	Site       int
	ReasonCode string
}

// DNBackInService is EventDNBackInService at a site.
type DNBackInService struct{ Site int }

// RelaunchResult reports an ActRelaunch.
type RelaunchResult struct{ Err error }

// AgentStateChanged tells the machine the agent's current state, to restore later.
type AgentStateChanged struct{ State AgentState }

// CallsChanged tells how many calls are in progress.
type CallsChanged struct{ Active int }

// SwitchRequested is the agent's manual "switch site" (BC-24).
type SwitchRequested struct{}

// LogoutRequested is the agent's own logout (BC-16).
type LogoutRequested struct{}

// Tick lets time pass: timers whose deadline is at or before Now fire.
type Tick struct{ Now time.Time }

func (Start) event()             {}
func (ConnectResult) event()     {}
func (LoginResult) event()       {}
func (ServiceChanged) event()    {}
func (AgentLoggedOut) event()    {}
func (DNBackInService) event()   {}
func (RelaunchResult) event()    {}
func (AgentStateChanged) event() {}
func (CallsChanged) event()      {}
func (SwitchRequested) event()   {}
func (LogoutRequested) event()   {}
func (Tick) event()              {}
