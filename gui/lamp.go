package gui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// lampStatus is what a status lamp shows.
type lampStatus int

const (
	lampUnknown lampStatus = iota // no information, or nothing to watch: a hollow ring
	lampOK
	lampPending
	lampFault
)

func (s lampStatus) String() string {
	return [...]string{"unknown", "ok", "pending", "fault"}[s]
}

// lamp is a status light with a title and, below it, a line of detail (the
// reason of a failed registration, for instance). The colour is never the
// only cue: the detail says the same in words, and "unknown" is a ring.
type lamp struct {
	widget.BaseWidget
	title  *widget.Label
	detail *widget.Label
	status lampStatus
}

func newLamp(title string) *lamp {
	l := &lamp{
		title:  widget.NewLabelWithStyle(title, fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
		detail: widget.NewLabel(""),
	}
	l.detail.SizeName = theme.SizeNameCaptionText
	l.ExtendBaseWidget(l)
	return l
}

// set shows a status and its detail.
func (l *lamp) set(s lampStatus, detail string) {
	if l.status == s && l.detail.Text == detail {
		return
	}
	l.status = s
	l.detail.SetText(detail)
	l.Refresh()
}

func (l *lamp) CreateRenderer() fyne.WidgetRenderer {
	r := &lampRenderer{l: l, dot: canvas.NewCircle(nil)}
	r.Refresh()
	return r
}

type lampRenderer struct {
	l   *lamp
	dot *canvas.Circle
}

const lampDot = 14

func (r *lampRenderer) Layout(size fyne.Size) {
	th := r.l.Theme()
	pad := th.Size(theme.SizeNamePadding)
	inner := th.Size(theme.SizeNameInnerPadding)
	// The dot sits on the title's first line.
	titleH := r.l.title.MinSize().Height
	r.dot.Resize(fyne.NewSquareSize(lampDot))
	r.dot.Move(fyne.NewPos(pad, (titleH-lampDot)/2))
	x := pad + lampDot
	r.l.title.Move(fyne.NewPos(x, 0))
	r.l.title.Resize(fyne.NewSize(size.Width-x, titleH))
	detailH := r.l.detail.MinSize().Height
	// Labels carry their own inner padding: pull the detail up under the title.
	r.l.detail.Move(fyne.NewPos(x, titleH-inner))
	r.l.detail.Resize(fyne.NewSize(size.Width-x, detailH))
}

func (r *lampRenderer) MinSize() fyne.Size {
	th := r.l.Theme()
	inner := th.Size(theme.SizeNameInnerPadding)
	t, d := r.l.title.MinSize(), r.l.detail.MinSize()
	w := max(t.Width, d.Width) + th.Size(theme.SizeNamePadding) + lampDot
	return fyne.NewSize(w, t.Height+d.Height-inner)
}

func (r *lampRenderer) Refresh() {
	th := r.l.Theme()
	v := fyne.CurrentApp().Settings().ThemeVariant()
	r.dot.FillColor, r.dot.StrokeColor, r.dot.StrokeWidth = nil, nil, 0
	switch r.l.status {
	case lampOK:
		r.dot.FillColor = th.Color(theme.ColorNameSuccess, v)
	case lampPending:
		r.dot.FillColor = th.Color(theme.ColorNameWarning, v)
	case lampFault:
		r.dot.FillColor = th.Color(theme.ColorNameError, v)
	default:
		r.dot.StrokeColor = th.Color(theme.ColorNameDisabled, v)
		r.dot.StrokeWidth = 2
	}
	r.dot.Refresh()
	r.l.title.Refresh()
	r.l.detail.Refresh()
}

func (r *lampRenderer) Objects() []fyne.CanvasObject {
	return []fyne.CanvasObject{r.dot, r.l.title, r.l.detail}
}

func (r *lampRenderer) Destroy() {}
