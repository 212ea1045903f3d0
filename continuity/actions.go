package continuity

import (
	"fmt"
	"time"
)

// Action is an output of the machine, for the application core to carry out.
// Long actions report back with an event (ConnectResult, LoginResult, RelaunchResult).
type Action interface{ action() }

// ActConnect connects to a site's Config Server, authenticates and reads the
// Person and the application options (BC-9, BC-10).
type ActConnect struct{ Site int }

// ActLogin connects the site's T-Server, registers the DN and logs the agent
// in at the site's Place, restoring State when it is set (BC-12, BC-18, BC-23).
type ActLogin struct {
	Site  int
	State AgentState
}

// ActSwitchover tears the current site's sessions down and logs in at the
// other site (BC-20); the SIP endpoint keeps both registrations.
type ActSwitchover struct {
	From, To int
	Reason   string
	State    AgentState
}

// ActRelaunch re-launches the embedded SIP endpoint, keeping its calls (BC-18, BC-30).
type ActRelaunch struct{ Site int }

// ActNotify tells the agent something: a warning, an alarm, a notice.
type ActNotify struct {
	Level   Level
	Site    int
	Service Service
	Text    string
}

// ActCountdown shows when the next step happens (a scheduled switchover, the
// next attempt): the agent sees what is happening and when (BC-22).
type ActCountdown struct {
	What string
	At   time.Time
}

// ActCancelCountdown removes the countdown: its condition cleared (BC-21).
type ActCancelCountdown struct{ What string }

// Level grades an ActNotify.
type Level int

// Levels.
const (
	Info Level = iota
	Warning
	Alarm // raised to upstream monitoring too
	Cleared
)

func (l Level) String() string {
	return [...]string{"info", "warning", "alarm", "cleared"}[l]
}

func (ActConnect) action()         {}
func (ActLogin) action()           {}
func (ActSwitchover) action()      {}
func (ActRelaunch) action()        {}
func (ActNotify) action()          {}
func (ActCountdown) action()       {}
func (ActCancelCountdown) action() {}

func (a ActSwitchover) String() string {
	return fmt.Sprintf("switchover site%d→site%d (%s)", a.From, a.To, a.Reason)
}
