package gui

import (
	"fmt"
	"image/color"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/tandem-softphone/tandem/continuity"
	"github.com/tandem-softphone/tandem/core"
)

type bannerKind int

const (
	bannerNone bannerKind = iota
	bannerInfo
	bannerSuccess
	bannerWarning
	bannerError
)

// bannerSpec is what a banner says.
type bannerSpec struct {
	kind          bannerKind
	title, detail string
	busy          bool // something is under way: a spinner instead of the icon
	compact       bool // one line of regular weight, for the lesser warnings
}

// switching tells whether the core is moving the agent: a switchover or an
// endpoint re-launch.
func switching(st core.State) bool {
	return st.Phase == continuity.SwitchingOver || st.Phase == continuity.Relaunching
}

// bannerFor is the business-continuity banner of a State: a switchover or
// re-launch under way, a countdown to one (BC-13, BC-18), the wait for a
// site (BC-22), or the outcome of the last one for a while after it.
func bannerFor(st core.State, now time.Time) bannerSpec {
	running := runningTimeline(st)
	switch st.Phase {
	case continuity.SwitchingOver:
		b := bannerSpec{kind: bannerWarning, busy: true,
			title: fmt.Sprintf("Switching to %s…", siteName(st, st.Site))}
		if running != nil {
			b.detail = progressText(*running)
			if why := triggerText(running.Trigger); why != "" && running.Kind == "switchover" {
				b.detail = "Why: " + why + ". " + b.detail
			}
		}
		return b
	case continuity.Relaunching:
		b := bannerSpec{kind: bannerWarning, busy: true,
			title:  fmt.Sprintf("Re-launching the SIP phone at %s…", siteName(st, st.Site)),
			detail: "Its registration expired; you are logged in again as soon as it is registered."}
		for _, c := range st.Countdowns {
			if c.What == "switchover" {
				b.detail = fmt.Sprintf("Its registration expired. If it is not registered again, switching to %s %s.",
					siteName(st, otherSite(st.Site)), inSeconds(c.At, now))
			}
		}
		return b
	}
	for _, c := range st.Countdowns {
		switch c.What {
		case "switchover":
			return bannerSpec{kind: bannerWarning, title: countdownText(st, c, now), detail: lastAlarm(st, st.Site)}
		case "next attempt":
			return bannerSpec{kind: bannerError, title: countdownText(st, c, now), detail: lastAlarm(st, 0)}
		}
	}
	if t := lastOutcome(st, now); t != nil {
		return outcomeBanner(st, *t)
	}
	return bannerSpec{}
}

// runningTimeline is the switchover or re-launch under way, if any.
func runningTimeline(st core.State) *continuity.Timeline {
	for i := len(st.Timelines) - 1; i >= 0; i-- {
		if st.Timelines[i].Finished.IsZero() {
			return &st.Timelines[i]
		}
	}
	return nil
}

// progressText is a running timeline's steps so far.
func progressText(t continuity.Timeline) string {
	if len(t.Steps) == 0 {
		return "Starting…"
	}
	return fmt.Sprintf("Step %d: %s", len(t.Steps), t.Steps[len(t.Steps)-1].Name)
}

// lastOutcome is the switchover or re-launch that finished last, if it did
// within outcomeShownFor.
func lastOutcome(st core.State, now time.Time) *continuity.Timeline {
	for i := len(st.Timelines) - 1; i >= 0; i-- {
		t := &st.Timelines[i]
		if t.Kind != "switchover" && t.Kind != "relaunch" {
			continue
		}
		if t.Finished.IsZero() || now.Sub(t.Finished) > outcomeShownFor {
			return nil
		}
		return t
	}
	return nil
}

func outcomeBanner(st core.State, t continuity.Timeline) bannerSpec {
	if t.Err != "" {
		what := "Switchover to " + siteName(st, t.To)
		if t.Kind == "relaunch" {
			what = "Re-launching the SIP phone"
		}
		b := bannerSpec{kind: bannerError, title: what + " failed", detail: t.Err}
		if why := triggerText(t.Trigger); why != "" && t.Kind == "switchover" {
			b.detail = "Why it began: " + why + ". " + b.detail
		}
		return b
	}
	if t.Kind == "relaunch" {
		return bannerSpec{kind: bannerSuccess,
			title:  fmt.Sprintf("SIP phone re-launched at %s in %s", siteName(st, t.To), duration(t.Duration())),
			detail: "You are logged in again with your previous state."}
	}
	b := bannerSpec{kind: bannerSuccess,
		title:  fmt.Sprintf("Now working at %s: switchover done in %s", siteName(st, t.To), duration(t.Duration())),
		detail: "Your state was restored at the new site."}
	if why := triggerText(t.Trigger); why != "" {
		b.detail = "Why: " + why + ". " + b.detail
	}
	return b
}

// lastAlarm is the text of the latest alarm or warning about a site (any
// site for 0): why a countdown runs.
func lastAlarm(st core.State, site int) string {
	for i := len(st.Notices) - 1; i >= 0; i-- {
		n := st.Notices[i]
		if (n.Level == continuity.Alarm || n.Level == continuity.Warning) && (site == 0 || n.Site == site) {
			return n.Text
		}
	}
	return ""
}

// banner is a coloured strip with an icon, a title and a detail line.
type banner struct {
	box    *fyne.Container
	bg     *canvas.Rectangle
	edge   *canvas.Rectangle
	icon   *widget.Icon
	title  *widget.Label
	detail *widget.Label
	busy   *widget.Activity
	// actions are the banner's buttons, on its right (setActions); hidden
	// while there are none, so that they take no room.
	actions    *fyne.Container
	actionsBox *fyne.Container
	spec       bannerSpec
}

func newBanner() *banner {
	b := &banner{
		bg:      canvas.NewRectangle(nil),
		edge:    canvas.NewRectangle(nil),
		icon:    widget.NewIcon(nil),
		title:   widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
		detail:  widget.NewLabel(""),
		busy:    widget.NewActivity(),
		actions: container.NewHBox(),
	}
	b.bg.CornerRadius = 6
	b.edge.SetMinSize(fyne.NewSize(5, 0))
	b.title.Wrapping = fyne.TextWrapWord
	b.detail.Wrapping = fyne.TextWrapWord
	b.busy.Stop()
	b.busy.Hide()
	// Centred: the buttons keep their height beside a two-line text.
	b.actionsBox = container.New(layout.NewCustomPaddedLayout(0, 0, 0, theme.Padding()), container.NewCenter(b.actions))
	b.actionsBox.Hide()
	// The labels' own padding is spacing enough between title and detail.
	text := container.New(layout.NewCustomPaddedVBoxLayout(-theme.InnerPadding()), b.title, b.detail)
	b.box = container.NewStack(b.bg, container.NewBorder(nil, nil,
		container.NewHBox(b.edge, container.NewCenter(container.NewStack(b.icon, b.busy))), b.actionsBox, text))
	b.box.Hide()
	return b
}

// setActions puts buttons on the banner's right.
func (b *banner) setActions(objs ...fyne.CanvasObject) {
	b.actions.Objects = objs
	b.actionsBox.Hidden = len(objs) == 0
	b.actionsBox.Refresh()
}

// show displays a spec; bannerNone hides the banner.
func (b *banner) show(s bannerSpec) {
	if s == b.spec {
		return
	}
	b.spec = s
	if s.kind == bannerNone {
		b.busy.Stop()
		b.box.Hide()
		return
	}
	name, icon := theme.ColorNamePrimary, theme.InfoIcon()
	switch s.kind {
	case bannerSuccess:
		name, icon = theme.ColorNameSuccess, theme.ConfirmIcon()
	case bannerWarning:
		name, icon = theme.ColorNameWarning, theme.WarningIcon()
	case bannerError:
		name, icon = theme.ColorNameError, theme.ErrorIcon()
	}
	c := theme.Color(name)
	b.edge.FillColor = c
	b.bg.FillColor = tint(c, 0x2c)
	b.icon.SetResource(theme.NewColoredResource(icon, name))
	b.title.TextStyle.Bold = !s.compact
	b.title.SetText(s.title)
	b.detail.SetText(s.detail)
	b.detail.Hidden = s.detail == ""
	if s.busy {
		b.icon.Hide()
		b.busy.Show()
		b.busy.Start()
	} else {
		b.busy.Stop()
		b.busy.Hide()
		b.icon.Show()
	}
	b.box.Show()
	b.box.Refresh()
}

// tint is a colour made translucent, for a background under text that keeps
// the theme's foreground colour readable in both variants.
func tint(c color.Color, alpha uint8) color.Color {
	r, g, bl, _ := c.RGBA()
	return color.NRGBA{R: uint8(r >> 8), G: uint8(g >> 8), B: uint8(bl >> 8), A: alpha}
}
