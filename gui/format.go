package gui

import (
	"fmt"
	"math"
	"strings"
	"time"
	"unicode"

	"github.com/tandem-softphone/tandem/continuity"
	"github.com/tandem-softphone/tandem/core"
	"github.com/tandem-softphone/tandem/sipua"
	"github.com/tandem-softphone/tandem/wire"
)

// The words the GUI shows for the State. Pure functions of the State and the
// time, so that tests can check every case without a window.

// siteName is "Site 1 · Paris", or "Site 1" for a site without a name.
func siteName(st core.State, site int) string {
	if site < 1 || site > 2 {
		return "no site"
	}
	if n := st.Sites[site-1].Name; n != "" {
		return fmt.Sprintf("Site %d · %s", site, n)
	}
	return fmt.Sprintf("Site %d", site)
}

func otherSite(site int) int {
	if site == 1 {
		return 2
	}
	return 1
}

// agentStateText names the agent's state for the agent.
func agentStateText(a core.Agent) string {
	switch a.State {
	case wire.StateReady:
		return "Ready"
	case wire.StateNotReady:
		if a.Reason != "" {
			return "Not Ready · " + a.Reason
		}
		return "Not Ready"
	case wire.StateAfterCallWork:
		return "After Call Work"
	case wire.StateLoggedOut:
		return "Logged out"
	case "":
		return "Not logged in"
	}
	return a.State
}

// agentLamp is the colour of the agent's state.
func agentLamp(a core.Agent) lampStatus {
	switch a.State {
	case wire.StateReady:
		return lampOK
	case wire.StateNotReady, wire.StateAfterCallWork:
		return lampPending
	}
	return lampUnknown
}

// registrationLamp is the lamp of a site's SIP registration and its reason.
func registrationLamp(r core.Registration) (lampStatus, string) {
	why := r.Reason
	if r.Code != 0 {
		why = strings.TrimSpace(fmt.Sprintf("%d %s", r.Code, r.Reason))
	}
	switch r.State {
	case sipua.RegistrationRegistered.String():
		return lampOK, "Registered"
	case sipua.RegistrationRegistering.String():
		return lampPending, "Registering…"
	case sipua.RegistrationFailed.String():
		return lampFault, withReason("Failed", why)
	case sipua.RegistrationExpired.String():
		return lampFault, withReason("Expired", why)
	case sipua.RegistrationCertificateError.String():
		return lampFault, withReason("Certificate not trusted", why)
	case sipua.RegistrationUnregistered.String():
		return lampUnknown, "Not registered"
	case "":
		return lampUnknown, "Not started"
	}
	return lampUnknown, withReason(r.State, why)
}

func withReason(what, why string) string {
	if why == "" {
		return what
	}
	return what + ": " + why
}

// serviceLamp is the lamp of a site service. Only the current site's
// services have sessions (BC-20): the other site's show as not in use.
func serviceLamp(s core.ServiceStatus) (lampStatus, string) {
	switch s {
	case core.ServiceOn:
		return lampOK, "Available"
	case core.ServiceOff:
		return lampFault, "Unavailable"
	}
	return lampUnknown, "Not in use"
}

// statisticName turns a Stat Server statistic name into words:
// "CallsHandledToday" is "Calls handled today".
func statisticName(name string) string {
	if name == "" {
		return "Statistic"
	}
	var b strings.Builder
	for i, r := range name {
		if i > 0 && unicode.IsUpper(r) {
			b.WriteByte(' ')
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

func statisticValue(s core.Statistic) string {
	if !s.Known {
		return "–"
	}
	return fmt.Sprint(s.Value)
}

// secondsLeft is the whole seconds until at, rounded up, never below zero.
func secondsLeft(at, now time.Time) int {
	return max(0, int(math.Ceil(at.Sub(now).Seconds())))
}

func inSeconds(at, now time.Time) string {
	n := secondsLeft(at, now)
	if n == 0 {
		return "now"
	}
	return fmt.Sprintf("in %d s", n)
}

// countdownText says what is planned and when: a switchover (BC-13, BC-18)
// or the next attempt to reach a site (BC-22).
func countdownText(st core.State, c core.Countdown, now time.Time) string {
	switch c.What {
	case "switchover":
		to := otherSite(st.Site)
		return fmt.Sprintf("%s is unavailable: switching to %s %s", siteName(st, st.Site), siteName(st, to), inSeconds(c.At, now))
	case "next attempt":
		return "No site can be reached: next attempt " + inSeconds(c.At, now)
	}
	return fmt.Sprintf("%s %s", c.What, inSeconds(c.At, now))
}

// timelineKind names a timeline's kind.
func timelineKind(k string) string {
	switch k {
	case "switchover":
		return "Switchover"
	case "relaunch":
		return "Re-launch"
	case "login":
		return "Login"
	}
	return k
}

// timelineTitle is one line about a timeline: what, where, why.
func timelineTitle(st core.State, t continuity.Timeline) string {
	var where string
	switch {
	case t.Kind == "switchover" || t.From != t.To && t.From != 0:
		where = fmt.Sprintf("from %s to %s", siteName(st, t.From), siteName(st, t.To))
	default:
		where = "at " + siteName(st, t.To)
	}
	s := timelineKind(t.Kind) + " " + where
	if t.Trigger != "" {
		s += " (" + t.Trigger + ")"
	}
	return s
}

// timelineOutcome is how a timeline ended, or that it is still running.
func timelineOutcome(t continuity.Timeline) string {
	switch {
	case t.Finished.IsZero():
		return "in progress"
	case t.Err != "":
		return fmt.Sprintf("failed after %s: %s", duration(t.Duration()), t.Err)
	}
	return "done in " + duration(t.Duration())
}

// timelineSteps lists a timeline's steps with their time from its start.
func timelineSteps(t continuity.Timeline) string {
	parts := make([]string, 0, len(t.Steps))
	for _, s := range t.Steps {
		parts = append(parts, fmt.Sprintf("%s +%s", s.Name, duration(s.At.Sub(t.Started))))
	}
	return strings.Join(parts, " · ")
}

// duration shows a duration the way an agent reads it: "850 ms", "1.3 s".
func duration(d time.Duration) string {
	switch {
	case d < 0:
		return "0 ms"
	case d < time.Second:
		return fmt.Sprintf("%d ms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.1f s", d.Seconds())
	}
	return d.Round(time.Second).String()
}

// loginErrorText is a login failure in the agent's words, with the core's
// detail (which server, what it said) below it.
func loginErrorText(e core.LoginError) (title, detail string) {
	switch e.Kind {
	case core.ErrorAuth:
		title = "Wrong user name or password."
	case core.ErrorUnreachable:
		title = "No site can be reached. Tandem keeps trying in the background."
	case core.ErrorUnknownApplication:
		title = "This desktop's configuration names an application the site does not know. Call your administrator."
	case "":
		return "", ""
	default:
		title = "Login failed."
	}
	return title, e.Text
}
