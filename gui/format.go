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

// siteName is "Site 1 · Paris", or "Site 1" for a site without a name,
// as one unbreakable label (keepTogether).
func siteName(st core.State, site int) string {
	if site < 1 || site > 2 {
		return "no site"
	}
	if n := st.Sites[site-1].Name; n != "" {
		return keepTogether(fmt.Sprintf("Site %d · %s", site, n))
	}
	return keepTogether(fmt.Sprintf("Site %d", site))
}

// keepTogether joins a label's words with no-break spaces, so that text
// that honours them never ends a line inside it ("Site 1 ·" / "Paris").
// Fyne 2.8's own word wrapping breaks at any unicode.IsSpace, U+00A0
// included: the wrapped texts that hold site labels are laid out so that a
// label need not wrap (loginSitesText).
func keepTogether(label string) string {
	return strings.ReplaceAll(label, " ", "\u00a0")
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

// agentHeadline is the agent card's state line: the agent's state while
// logged in at a site, and what the core is doing while it is moving the
// agent (a switchover, a re-launch, a login): the T-Server's "logged out"
// between two sites is a step of the move, not the agent's state.
func agentHeadline(st core.State) (string, lampStatus) {
	switch st.Phase {
	case continuity.SwitchingOver:
		return "Moving to " + siteName(st, st.Site) + "…", lampPending
	case continuity.Relaunching:
		return "Re-launching the phone…", lampPending
	case continuity.Connecting, continuity.LoggingIn:
		if st.Site != 0 {
			return "Logging in at " + siteName(st, st.Site) + "…", lampPending
		}
		return "Logging in…", lampPending
	case continuity.Waiting:
		return "Waiting for a site…", lampFault
	}
	return agentStateText(st.Agent), agentLamp(st.Agent)
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

// statisticSite says which site counted the statistic: each site's Stat
// Server counts its own, so a switchover starts another count.
func statisticSite(st core.State) string {
	if !st.Statistic.Known || st.Statistic.Site == 0 {
		return ""
	}
	return "at " + siteName(st, st.Statistic.Site)
}

func statisticValue(s core.Statistic) string {
	if !s.Known {
		return "–"
	}
	return fmt.Sprint(s.Value)
}

// codecName names a call's codec (sipua's "PCMU/8000 (pt 0)") as agents
// and administrators know it; a codec it does not know keeps its SDP name.
func codecName(codec string) string {
	name, _, _ := strings.Cut(codec, "/")
	name = strings.TrimSpace(name)
	switch strings.ToUpper(name) {
	case "PCMU":
		return "G.711 µ-law"
	case "PCMA":
		return "G.711 A-law"
	case "OPUS":
		return "Opus"
	case "":
		return codec
	}
	return name
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

// triggerText is why a switchover began (continuity.Timeline.Trigger) in
// the agent's words: the core's words, with the agent as "you".
func triggerText(trigger string) string {
	switch trigger {
	case "":
		return ""
	case "retry":
		return "the previous attempt failed; trying the sites in turn"
	case "the agent asked":
		return "you asked for it"
	case "the agent's preferred site":
		return "it is your preferred site"
	}
	return trigger
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
