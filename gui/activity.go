package gui

import (
	"fmt"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/tandem-softphone/tandem/continuity"
	"github.com/tandem-softphone/tandem/core"
)

// activityPanel lists the notices, newest first, and the timelines of the
// logins, switchovers and re-launches of the run.
type activityPanel struct {
	tabs         *container.AppTabs
	noticesTab   *container.TabItem
	timelinesTab *container.TabItem
	notices      *fyne.Container
	timelines    *fyne.Container
	// What was last drawn, to redraw the lists only when they change.
	lastNotice    uint64
	noticeCount   int
	timelineSig   string
	siteNamesSeen [2]string
}

func newActivityPanel() *activityPanel {
	p := &activityPanel{
		notices:   container.NewVBox(caption("No notices yet.")),
		timelines: container.NewVBox(caption("No switchover or re-launch yet.")),
	}
	scrollN := container.NewVScroll(p.notices)
	scrollN.SetMinSize(fyne.NewSize(0, 100))
	scrollT := container.NewVScroll(p.timelines)
	scrollT.SetMinSize(fyne.NewSize(0, 100))
	p.noticesTab = container.NewTabItemWithIcon("Notices", theme.InfoIcon(), scrollN)
	p.timelinesTab = container.NewTabItemWithIcon("Switchovers and re-launches", theme.HistoryIcon(), scrollT)
	p.tabs = container.NewAppTabs(p.noticesTab, p.timelinesTab)
	return p
}

func (p *activityPanel) render(st core.State) {
	names := [2]string{st.Sites[0].Name, st.Sites[1].Name}
	var last uint64
	if n := len(st.Notices); n > 0 {
		last = st.Notices[n-1].Seq
	}
	if last != p.lastNotice || len(st.Notices) != p.noticeCount || names != p.siteNamesSeen {
		p.lastNotice, p.noticeCount = last, len(st.Notices)
		p.renderNotices(st)
	}
	if sig := timelinesSignature(st.Timelines); sig != p.timelineSig || names != p.siteNamesSeen {
		p.timelineSig = sig
		p.renderTimelines(st)
	}
	p.siteNamesSeen = names
}

func (p *activityPanel) renderNotices(st core.State) {
	if len(st.Notices) == 0 {
		p.notices.Objects = []fyne.CanvasObject{caption("No notices yet.")}
		p.notices.Refresh()
		return
	}
	rows := make([]fyne.CanvasObject, 0, len(st.Notices))
	for i := len(st.Notices) - 1; i >= 0; i-- {
		rows = append(rows, noticeRow(st, st.Notices[i]))
	}
	p.notices.Objects = rows
	p.notices.Refresh()
}

func noticeRow(st core.State, n core.Notice) fyne.CanvasObject {
	when := widget.NewLabel(n.At.Format("15:04:05"))
	when.TextStyle.Monospace = true
	text := n.Text
	if n.Site != 0 {
		text = siteName(st, n.Site) + ": " + text
	}
	msg := widget.NewLabel(text)
	msg.Wrapping = fyne.TextWrapWord
	icon := widget.NewIcon(levelIcon(n.Level))
	return container.NewBorder(nil, nil, container.NewVBox(container.NewHBox(icon, when)), nil, msg)
}

// levelIcon is a notice level's icon, coloured like the banners.
func levelIcon(l continuity.Level) fyne.Resource {
	switch l {
	case continuity.Warning:
		return theme.NewColoredResource(theme.WarningIcon(), theme.ColorNameWarning)
	case continuity.Alarm:
		return theme.NewColoredResource(theme.ErrorIcon(), theme.ColorNameError)
	case continuity.Cleared:
		return theme.NewColoredResource(theme.ConfirmIcon(), theme.ColorNameSuccess)
	}
	return theme.NewColoredResource(theme.InfoIcon(), theme.ColorNamePrimary)
}

func (p *activityPanel) renderTimelines(st core.State) {
	if len(st.Timelines) == 0 {
		p.timelines.Objects = []fyne.CanvasObject{caption("No switchover or re-launch yet.")}
		p.timelines.Refresh()
		return
	}
	rows := make([]fyne.CanvasObject, 0, len(st.Timelines))
	for i := len(st.Timelines) - 1; i >= 0; i-- {
		rows = append(rows, timelineRow(st, st.Timelines[i]))
	}
	p.timelines.Objects = rows
	p.timelines.Refresh()
}

func timelineRow(st core.State, t continuity.Timeline) fyne.CanvasObject {
	icon := theme.NewColoredResource(theme.ConfirmIcon(), theme.ColorNameSuccess)
	switch {
	case t.Finished.IsZero():
		icon = theme.NewColoredResource(theme.HistoryIcon(), theme.ColorNameWarning)
	case t.Err != "":
		icon = theme.NewColoredResource(theme.ErrorIcon(), theme.ColorNameError)
	}
	when := widget.NewLabel(t.Started.Format("15:04:05"))
	when.TextStyle.Monospace = true
	title := widget.NewLabelWithStyle(timelineTitle(st, t)+": "+timelineOutcome(t), fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	title.Wrapping = fyne.TextWrapWord
	body := container.New(layout.NewCustomPaddedVBoxLayout(-theme.InnerPadding()), title)
	if steps := timelineSteps(t); steps != "" {
		s := caption(steps)
		s.Wrapping = fyne.TextWrapWord
		body.Add(s)
	}
	return container.NewBorder(nil, nil, container.NewVBox(container.NewHBox(widget.NewIcon(icon), when)), nil, body)
}

// timelinesSignature changes whenever a timeline is added, steps or ends.
func timelinesSignature(ts []continuity.Timeline) string {
	sig := fmt.Sprint(len(ts))
	for _, t := range ts {
		sig += fmt.Sprintf("|%d,%d,%d,%s", len(t.Steps), t.To, t.Finished.UnixNano(), t.Err)
	}
	return sig
}
