package gui

import (
	"context"
	"fmt"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/tandem-softphone/tandem/assets"
	"github.com/tandem-softphone/tandem/continuity"
	"github.com/tandem-softphone/tandem/core"
	"github.com/tandem-softphone/tandem/sipua"
)

// historyPanel lists the calls that ended, newest first, each with a button
// that calls its peer again. It is a tab of the activity panel.
type historyPanel struct {
	u       *UI
	tab     *container.TabItem
	list    *fyne.Container
	failure *failureLabel
	// redial holds the rows' buttons, newest first, for the tests.
	redial []*widget.Button
	// sig is what was last drawn: the list is rebuilt only when it changes.
	sig string
}

func newHistoryPanel(u *UI) *historyPanel {
	p := &historyPanel{u: u, list: container.NewVBox(caption("No call yet."))}
	p.failure = newFailureLabel()
	scroll := container.NewVScroll(container.NewVBox(p.failure.label, p.list))
	scroll.SetMinSize(fyne.NewSize(0, 100))
	p.tab = container.NewTabItemWithIcon("Call history", theme.HistoryIcon(), scroll)
	return p
}

func (p *historyPanel) render(st core.State) {
	canDial := p.u.dialer() != nil && st.Phase == continuity.LoggedIn
	sig := fmt.Sprint(len(st.CallHistory), canDial)
	if n := len(st.CallHistory); n > 0 {
		sig += st.CallHistory[n-1].ID + st.CallHistory[0].ID
	}
	if sig == p.sig {
		return
	}
	p.sig = sig
	if len(st.CallHistory) == 0 {
		p.redial = nil
		p.list.Objects = []fyne.CanvasObject{caption("No call yet.")}
		p.list.Refresh()
		return
	}
	now := p.u.opts.Now()
	// The times share one width, so that the calls' texts line up.
	whens := make([]fyne.CanvasObject, 0, len(st.CallHistory))
	width := float32(0)
	for i := len(st.CallHistory) - 1; i >= 0; i-- {
		w := historyWhen(st.CallHistory[i], now)
		width = max(width, w.MinSize().Width)
		whens = append(whens, w)
	}
	rows := make([]fyne.CanvasObject, 0, len(st.CallHistory))
	p.redial = p.redial[:0]
	for i := len(st.CallHistory) - 1; i >= 0; i-- {
		ci := st.CallHistory[i]
		b := p.row(ci, canDial)
		p.redial = append(p.redial, b)
		when := container.New(&fixedWidth{width: width}, whens[len(rows)])
		rows = append(rows, container.NewBorder(nil, nil, when, b, historyText(ci)))
	}
	p.list.Objects = rows
	p.list.Refresh()
}

// row is a call's redial button.
func (p *historyPanel) row(ci sipua.CallInfo, canDial bool) *widget.Button {
	target := core.DialTarget(ci)
	b := widget.NewButtonWithIcon("Call again", theme.NewThemedResource(assets.Call), func() {
		dl := p.u.dialer()
		if dl == nil {
			return
		}
		p.u.intent("redial", func(ctx context.Context) error { return dl.Dial(ctx, target) }, p.failure.done("Call "+target))
	})
	b.Importance = widget.LowImportance
	enable(b, canDial && target != "")
	return b
}

// historyWhen is when the call began: the time of day, and the date too
// for a call of another day (the history outlives the run).
func historyWhen(ci sipua.CallInfo, now time.Time) fyne.CanvasObject {
	layout := "15:04"
	if y, m, d := ci.Created.Date(); y != now.Year() || m != now.Month() || d != now.Day() {
		layout = "Jan 2 15:04"
	}
	l := widget.NewLabel(ci.Created.Format(layout))
	l.TextStyle.Monospace = true
	return l
}

func historyText(ci sipua.CallInfo) fyne.CanvasObject {
	l := widget.NewLabel(historyLine(ci))
	l.Truncation = fyne.TextTruncateEllipsis
	return l
}

// historyLine is one ended call: its direction, its peer and how it ended.
func historyLine(ci sipua.CallInfo) string {
	dir := "To"
	if ci.Direction == sipua.Incoming {
		dir = "From"
	}
	return dir + " " + peerText(ci) + " · " + callOutcome(ci)
}

// callOutcome says how an ended call went, in the agent's words.
func callOutcome(ci sipua.CallInfo) string {
	if !ci.Answered.IsZero() {
		d := time.Duration(0)
		if !ci.Ended.IsZero() {
			d = max(ci.Ended.Sub(ci.Answered), 0)
		}
		out := "answered, " + callTimer(sipua.CallInfo{Answered: ci.Answered}, ci.Answered.Add(d))
		switch ci.EndReason {
		case sipua.EndTransferred, sipua.EndReplaced:
			out += ", transferred"
		case sipua.EndStored:
			out += ", moved to the re-launched endpoint"
		}
		return out
	}
	in := ci.Direction == sipua.Incoming
	switch ci.EndReason {
	case sipua.EndCancelled:
		if in {
			return "missed"
		}
		return "cancelled"
	case sipua.EndRejected:
		return "rejected"
	case sipua.EndBusy:
		return "busy"
	case sipua.EndDeclined:
		return "declined"
	case sipua.EndNotFound:
		return "number not found"
	case sipua.EndUnavailable:
		return "not reachable"
	case sipua.EndTimeout:
		return "no answer from the network"
	case sipua.EndMediaRefused:
		return "no audio format in common"
	case sipua.EndFailed:
		return withCode("failed", ci.Code)
	case sipua.EndError:
		return strings.TrimSpace("failed " + ci.Reason)
	}
	if in {
		return "missed"
	}
	return "not answered"
}

func withCode(s string, code int) string {
	if code == 0 {
		return s
	}
	return fmt.Sprintf("%s (%d)", s, code)
}

// dialer is the backend as a Dialer, or nil when it cannot place calls.
func (u *UI) dialer() Dialer {
	dl, _ := u.b.(Dialer)
	return dl
}
