package gui

import (
	"strings"
	"testing"

	"github.com/tandem-softphone/tandem/continuity"
	"github.com/tandem-softphone/tandem/core"
	"github.com/tandem-softphone/tandem/wire"
)

func TestCodecName(t *testing.T) {
	for codec, want := range map[string]string{
		"PCMU/8000 (pt 0)":      "G.711 µ-law",
		"PCMA/8000 (pt 8)":      "G.711 A-law",
		"opus/48000/2 (pt 111)": "Opus",
		"pcmu/8000 (pt 0)":      "G.711 µ-law", // SDP encoding names are case-insensitive
		"G722/8000 (pt 9)":      "G722",        // unknown: its SDP name, without the clock rate and payload type
		"":                      "",
	} {
		if got := codecName(codec); got != want {
			t.Errorf("codecName(%q) = %q, want %q", codec, got, want)
		}
	}
}

// A site label is one unit: no-break spaces only.
func TestSiteNameKeepsTogether(t *testing.T) {
	st := sampleIdle()
	st.Sites[1].Name = "Lyon Part-Dieu"
	for site, want := range map[int]string{1: "Site 1 · Paris", 2: "Site 2 · Lyon Part-Dieu"} {
		got := siteName(st, site)
		if strings.Contains(got, " ") || strings.ReplaceAll(got, "\u00a0", " ") != want {
			t.Errorf("siteName(%d) = %q, want %q with no-break spaces", site, got, want)
		}
	}
	st.Sites[0].Name = ""
	if got := siteName(st, 1); got != "Site\u00a01" {
		t.Errorf("unnamed site: %q", got)
	}
}

// The switchover's trigger, as the continuity engine words it, in the
// agent's words.
func TestTriggerText(t *testing.T) {
	for trigger, want := range map[string]string{
		"graceful shutdown of site 1":                                 "graceful shutdown of site 1",
		"site 1 telephony service unavailable for site-timeout (30s)": "site 1 telephony service unavailable for site-timeout (30s)",
		"the agent asked":                                             "you asked for it",
		"the agent's preferred site":                                  "it is your preferred site",
		"retry":                                                       "the previous attempt failed; trying the sites in turn",
		"":                                                            "",
	} {
		if got := triggerText(trigger); got != want {
			t.Errorf("triggerText(%q) = %q, want %q", trigger, got, want)
		}
	}
}

// Between two sites the T-Server's "logged out" is a step of the move: the
// agent card says what is happening instead.
func TestAgentHeadline(t *testing.T) {
	for _, tc := range []struct {
		phase continuity.Phase
		site  int
		state string
		want  string
		lamp  lampStatus
	}{
		{continuity.SwitchingOver, 2, wire.StateLoggedOut, "Moving to Site\u00a02\u00a0·\u00a0Lyon…", lampPending},
		{continuity.Relaunching, 1, wire.StateLoggedOut, "Re-launching the phone…", lampPending},
		{continuity.LoggingIn, 1, "", "Logging in at Site\u00a01\u00a0·\u00a0Paris…", lampPending},
		{continuity.Connecting, 0, "", "Logging in…", lampPending},
		{continuity.Waiting, 1, wire.StateLoggedOut, "Waiting for a site…", lampFault},
		{continuity.LoggedIn, 1, wire.StateReady, "Ready", lampOK},
		{continuity.LoggedOut, 1, wire.StateLoggedOut, "Logged out", lampUnknown},
	} {
		st := sampleReady()
		st.Phase, st.Site, st.Agent.State = tc.phase, tc.site, tc.state
		got, lamp := agentHeadline(st)
		if got != tc.want || lamp != tc.lamp {
			t.Errorf("%s: %q (%v), want %q (%v)", tc.phase, got, lamp, tc.want, tc.lamp)
		}
	}
}

// Each site's Stat Server counts its own: the label says whose count it is.
func TestStatisticSite(t *testing.T) {
	st := sampleReady()
	st.Statistic = core.Statistic{Name: wire.StatCallsHandledToday, Value: 0, Known: true, Site: 2}
	if got := statisticSite(st); got != "at Site\u00a02\u00a0·\u00a0Lyon" {
		t.Errorf("statisticSite = %q", got)
	}
	st.Statistic.Known = false
	if got := statisticSite(st); got != "" {
		t.Errorf("no value yet: %q", got)
	}
}
