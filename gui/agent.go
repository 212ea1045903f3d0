package gui

import (
	"context"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/tandem-softphone/tandem/continuity"
	"github.com/tandem-softphone/tandem/core"
	"github.com/tandem-softphone/tandem/wire"
)

// agentCard shows the agent's state with its controls, and the statistic.
type agentCard struct {
	u        *UI
	card     *widget.Card
	state    *lamp
	ready    *widget.Button
	notReady *widget.Button
	reason   *widget.Select
	acw      *widget.Button
	logout   *widget.Button
	failure  *failureLabel
	statName *widget.Label
	statSite *widget.Label
	statVal  *widget.Label
}

func newAgentCard(u *UI) *agentCard {
	c := &agentCard{u: u}
	c.state = newLamp("")
	c.state.title.SizeName = theme.SizeNameSubHeadingText
	// "Moving to Site 2 · <a long site name>…" must not widen the card.
	c.state.title.Truncation = fyne.TextTruncateEllipsis
	c.ready = widget.NewButtonWithIcon("Ready", theme.MediaPlayIcon(), c.onReady)
	c.ready.Importance = widget.SuccessImportance
	c.reason = widget.NewSelect(u.opts.NotReadyReasons, nil)
	c.reason.PlaceHolder = "Reason…"
	c.notReady = widget.NewButtonWithIcon("Not Ready", theme.MediaPauseIcon(), c.onNotReady)
	c.notReady.Importance = widget.WarningImportance
	c.acw = widget.NewButtonWithIcon("After Call Work", theme.DocumentCreateIcon(), c.onACW)
	c.logout = widget.NewButtonWithIcon("Log out", theme.LogoutIcon(), c.onLogout)
	c.failure = newFailureLabel()
	c.statName = widget.NewLabel("")
	c.statVal = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	c.statVal.SizeName = theme.SizeNameHeadingText

	controls := container.NewVBox(
		c.ready,
		container.NewGridWithColumns(2, c.reason, c.notReady),
		c.acw,
		c.logout,
	)
	c.statSite = caption("")
	c.statSite.Hide()
	name := container.New(layout.NewCustomPaddedVBoxLayout(-theme.InnerPadding()), c.statName, c.statSite)
	stat := container.NewVBox(widget.NewSeparator(), container.NewBorder(nil, nil, nil, c.statVal,
		container.NewVBox(layout.NewSpacer(), name, layout.NewSpacer())))
	c.card = card("Agent", container.New(&fixedWidth{width: 300},
		container.NewVBox(c.state, controls, c.failure.label, stat)))
	return c
}

func (c *agentCard) render(st core.State) {
	title, status := agentHeadline(st)
	c.state.title.SetText(title)
	c.state.set(status, whereText(st))
	// The core accepts agent requests while logged in at a site.
	can := st.Phase == continuity.LoggedIn
	enable(c.ready, can && st.Agent.State != wire.StateReady)
	enable(c.notReady, can)
	enable(c.acw, can && st.Agent.State != wire.StateAfterCallWork)
	if can {
		c.reason.Enable()
	} else {
		c.reason.Disable()
	}
	c.statName.SetText(statisticName(st.Statistic.Name))
	c.statSite.SetText(statisticSite(st))
	show(c.statSite, c.statSite.Text != "")
	c.statVal.SetText(statisticValue(st.Statistic))
}

func enable(b *widget.Button, on bool) {
	if on {
		b.Enable()
	} else {
		b.Disable()
	}
}

func (c *agentCard) onReady() {
	c.u.intent("ready", c.u.b.Ready, c.failure.done("Ready"))
}

func (c *agentCard) onNotReady() {
	reason := c.reason.Selected
	c.u.intent("not ready", func(ctx context.Context) error { return c.u.b.NotReady(ctx, reason) }, c.failure.done("Not Ready"))
}

func (c *agentCard) onACW() {
	c.u.intent("after call work", c.u.b.AfterCallWork, c.failure.done("After Call Work"))
}

func (c *agentCard) onLogout() {
	c.u.loggedOutByMe = true
	// The State's move to LoggedOut brings the login view back.
	c.u.intent("logout", c.u.b.Logout, c.failure.done("Log out"))
}

// failureLabel shows an intent's failure, until the next one succeeds.
type failureLabel struct{ label *widget.Label }

func newFailureLabel() *failureLabel {
	l := widget.NewLabel("")
	l.Importance = widget.DangerImportance
	l.Wrapping = fyne.TextWrapWord
	l.Hide()
	return &failureLabel{label: l}
}

// done is the completion of an intent named what.
func (f *failureLabel) done(what string) func(error) {
	return func(err error) {
		if err == nil {
			f.label.Hide()
			return
		}
		f.label.SetText(what + " failed: " + err.Error())
		f.label.Show()
	}
}
