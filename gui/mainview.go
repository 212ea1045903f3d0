package gui

import (
	"fmt"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/tandem-softphone/tandem/continuity"
	"github.com/tandem-softphone/tandem/core"
)

// mainView is the window of a logged-in agent: the continuity banner and
// warnings on top, then the agent's state, both sites and the dial pad, the
// calls in progress, and the activity (notices, timelines) below.
type mainView struct {
	u        *UI
	content  fyne.CanvasObject
	who      *widget.Label
	where    *widget.Label
	mail     *voicemailBadge
	banner   *banner
	saved    *savedCallsPrompt
	warnings *fyne.Container
	agent    *agentCard
	sites    *sitesCard
	dial     *dialPad
	calls    *callsPanel
	activity *activityPanel
	history  *historyPanel
}

func newMainView(u *UI) *mainView {
	v := &mainView{u: u}
	v.who = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	v.where = widget.NewLabel("")
	icon := appIcon(32)
	settings := widget.NewButtonWithIcon("Settings", theme.SettingsIcon(), u.showSettings)
	settings.Importance = widget.LowImportance
	v.mail = newVoicemailBadge()
	header := container.NewHBox(icon, v.who, v.where, layout.NewSpacer(), v.mail.box, settings)

	v.banner = newBanner()
	v.saved = newSavedCallsPrompt(u)
	v.warnings = container.NewVBox()
	v.agent = newAgentCard(u)
	v.sites = newSitesCard(u)
	v.dial = newDialPad(u)
	v.calls = newCallsPanel(u)
	v.activity = newActivityPanel()
	v.history = newHistoryPanel(u)
	v.activity.tabs.Append(v.history.tab)

	cards := container.NewBorder(nil, nil, v.agent.card, v.dial.card, v.sites.card)
	top := container.NewVBox(header, widget.NewSeparator(), v.banner.box, v.saved.banner.box, v.warnings, cards, v.calls.card)
	v.content = container.NewPadded(container.NewBorder(top, nil, nil, nil, v.activity.tabs))
	return v
}

func (v *mainView) render(st core.State, now time.Time) {
	v.who.SetText(agentTitle(st))
	v.where.SetText(headerSite(st))
	v.mail.render(st)
	v.renderBanner(st, now)
	v.saved.render(st, now)
	v.renderWarnings(st)
	v.agent.render(st)
	v.sites.render(st)
	v.dial.render(st)
	v.calls.render(st, now)
	v.activity.render(st)
	v.history.render(st)
}

func (v *mainView) renderBanner(st core.State, now time.Time) {
	v.banner.show(bannerFor(st, now))
}

// agentTitle names the agent: user name and agent id.
func agentTitle(st core.State) string {
	if st.Agent.ID != "" && st.Agent.ID != st.User {
		return fmt.Sprintf("%s (agent %s)", st.User, st.Agent.ID)
	}
	return st.User
}

// headerSite says where the agent works, or where it is being moved.
func headerSite(st core.State) string {
	switch {
	case st.Site == 0:
		return ""
	case st.Phase == continuity.SwitchingOver:
		return "moving to " + siteName(st, st.Site)
	}
	return "at " + siteName(st, st.Site)
}

// whereText is the agent's DN and place at the current site (BC-3).
func whereText(st core.State) string {
	switch {
	case st.Agent.DN != "" && st.Agent.Place != "":
		return fmt.Sprintf("DN %s at %s", st.Agent.DN, st.Agent.Place)
	case st.Agent.DN != "":
		return "DN " + st.Agent.DN
	}
	return ""
}

// renderWarnings shows a warning per unavailable service of the current site
// that does not drive a switchover by itself (BC-14, BC-15), and the
// telephony service's loss while no switchover is planned for it.
func (v *mainView) renderWarnings(st core.State) {
	texts := serviceWarnings(st)
	objs := make([]fyne.CanvasObject, 0, len(texts))
	for _, t := range texts {
		b := newBanner()
		b.show(bannerSpec{kind: bannerWarning, title: t, compact: true})
		objs = append(objs, b.box)
	}
	v.warnings.Objects = objs
	v.warnings.Refresh()
}

func serviceWarnings(st core.State) []string {
	if st.Site < 1 || st.Site > 2 {
		return nil
	}
	s := st.Sites[st.Site-1]
	name := siteName(st, st.Site)
	var out []string
	if s.Telephony == core.ServiceOff && !hasCountdown(st, "switchover") && !switching(st) {
		out = append(out, "Telephony service unavailable at "+name+
			": reconnecting. Calls cannot be taken or made until it is back.")
	}
	if s.Configuration == core.ServiceOff {
		out = append(out, "Configuration service unavailable at "+name+
			": you stay logged in and calls go on; settings cannot be reloaded until it is back.")
	}
	if s.Statistic == core.ServiceOff {
		out = append(out, "Statistic service unavailable at "+name+
			": you stay logged in and calls go on; the statistic is not updated until it is back.")
	}
	return out
}

func hasCountdown(st core.State, what string) bool {
	for _, c := range st.Countdowns {
		if c.What == what {
			return true
		}
	}
	return false
}

// card is a titled, padded panel. Its title is a sub-heading: the card's
// own heading is too tall for a window that must fit a laptop screen.
func card(title string, content fyne.CanvasObject) *widget.Card {
	h := heading(title)
	h.SizeName = theme.SizeNameSubHeadingText
	return widget.NewCard("", "", container.NewVBox(h, content))
}

// heading is a bold label.
func heading(text string) *widget.Label {
	return widget.NewLabelWithStyle(text, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
}

// caption is a small label.
func caption(text string) *widget.Label {
	l := widget.NewLabel(text)
	l.SizeName = theme.SizeNameCaptionText
	return l
}
