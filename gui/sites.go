package gui

import (
	"context"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/tandem-softphone/tandem/continuity"
	"github.com/tandem-softphone/tandem/core"
)

// sitesCard shows both sites: which one the agent works at, which one is
// preferred, the SIP registration at each (BC-2) and the current site's
// services.
type sitesCard struct {
	u         *UI
	card      *widget.Card
	sites     [2]*siteColumn
	switchBtn *widget.Button
	failure   *failureLabel
}

type siteColumn struct {
	name      *widget.Label
	current   *badge
	preferred *badge
	sip       *lamp
	telephony *lamp
	config    *lamp
	stat      *lamp
	box       *fyne.Container
}

func newSiteColumn() *siteColumn {
	s := &siteColumn{
		name:      heading(""),
		current:   newBadge("current", theme.ColorNamePrimary),
		preferred: newBadge("preferred", theme.ColorNameSuccess),
		sip:       newLamp("SIP registration"),
		telephony: newLamp("Telephony"),
		config:    newLamp("Configuration"),
		stat:      newLamp("Statistic"),
	}
	s.box = container.NewVBox(
		container.NewHBox(s.name, container.NewCenter(s.current.box), container.NewCenter(s.preferred.box)),
		s.sip, s.telephony, s.config, s.stat,
	)
	return s
}

func newSitesCard(u *UI) *sitesCard {
	c := &sitesCard{u: u}
	for i := range c.sites {
		c.sites[i] = newSiteColumn()
	}
	c.failure = newFailureLabel()
	c.switchBtn = widget.NewButtonWithIcon("", theme.ViewRefreshIcon(), c.onSwitch)
	c.card = card("Sites", container.NewVBox(
		container.NewGridWithColumns(2, c.sites[0].box, c.sites[1].box),
		container.NewHBox(layout.NewSpacer(), c.switchBtn),
		c.failure.label,
	))
	return c
}

func (c *sitesCard) render(st core.State) {
	for i, s := range c.sites {
		site := i + 1
		ss := st.Sites[i]
		s.name.SetText(siteName(st, site))
		s.current.paint()
		s.preferred.paint()
		s.current.box.Hidden = st.Site != site
		s.preferred.box.Hidden = st.Preferred != site
		s.sip.set(registrationLamp(ss.SIP))
		s.telephony.set(serviceLamp(ss.Telephony))
		s.config.set(serviceLamp(ss.Configuration))
		s.stat.set(serviceLamp(ss.Statistic))
	}
	other := otherSite(st.Site)
	c.switchBtn.SetText("Switch to " + siteName(st, other))
	// Switching is the agent's own way back to a site (BC-24); the core
	// refuses it during a call and says so in a notice.
	// Returning to another site is the agent's choice, never during a call (BC-24).
	enable(c.switchBtn, st.Phase == continuity.LoggedIn && st.Site != 0 && len(st.Calls) == 0)
}

func (c *sitesCard) onSwitch() {
	to := siteName(c.u.st, otherSite(c.u.st.Site))
	c.u.intent("switch site", func(context.Context) error { return c.u.b.SwitchSite() }, c.failure.done("Switch to "+to))
}

// badge is a small rounded tag ("current", "preferred").
type badge struct {
	box    *fyne.Container
	bg     *canvas.Rectangle
	text   *canvas.Text
	colour fyne.ThemeColorName
}

func newBadge(text string, colour fyne.ThemeColorName) *badge {
	b := &badge{bg: canvas.NewRectangle(nil), text: canvas.NewText(text, nil), colour: colour}
	b.bg.CornerRadius = 8
	b.text.TextSize = theme.CaptionTextSize()
	b.box = container.NewStack(b.bg, container.New(layout.NewCustomPaddedLayout(2, 2, 8, 8), b.text))
	b.paint()
	return b
}

// paint takes the theme's colours, for a theme change.
func (b *badge) paint() {
	b.bg.FillColor = tint(theme.Color(b.colour), 0x48)
	b.text.Color = theme.Color(theme.ColorNameForeground)
	b.bg.Refresh()
	b.text.Refresh()
}
