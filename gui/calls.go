package gui

import (
	"context"
	"fmt"
	"image/color"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/tandem-softphone/tandem/assets"
	"github.com/tandem-softphone/tandem/core"
	"github.com/tandem-softphone/tandem/sipua"
)

// callsPanel shows the calls in progress, one row each with the controls
// its state allows. It is hidden while there is no call.
type callsPanel struct {
	u    *UI
	card *widget.Card
	list *fyne.Container
	// rows are kept by call ID across renders, so that a transfer target
	// being typed survives the call's changes.
	rows map[string]*callRow
	// announced are the ringing calls already brought to the agent's
	// attention: once per call.
	announced map[string]bool
}

func newCallsPanel(u *UI) *callsPanel {
	p := &callsPanel{u: u, rows: map[string]*callRow{}, announced: map[string]bool{}}
	p.list = container.NewVBox()
	// No heading: the rows say what they are, and the height is better
	// spent on a second call (call waiting, consultation).
	p.card = widget.NewCard("", "", p.list)
	p.card.Hide()
	return p
}

func (p *callsPanel) render(st core.State, now time.Time) {
	objs := make([]fyne.CanvasObject, 0, 2*len(st.Calls))
	seen := make(map[string]bool, len(st.Calls))
	for i, ci := range st.Calls {
		seen[ci.ID] = true
		r := p.rows[ci.ID]
		if r == nil {
			r = newCallRow(p.u, ci.ID)
			p.rows[ci.ID] = r
		}
		r.render(ci, consultations(st.Calls, ci), now)
		if i > 0 {
			objs = append(objs, widget.NewSeparator())
		}
		objs = append(objs, r.box)
		p.announce(ci)
	}
	for id := range p.rows {
		if !seen[id] {
			delete(p.rows, id)
		}
	}
	for id := range p.announced {
		if !seen[id] {
			delete(p.announced, id)
		}
	}
	p.list.Objects = objs
	p.list.Refresh()
	p.card.Hidden = len(st.Calls) == 0
	p.card.Refresh()
}

// announce brings the window forward and sends a system notification for
// an incoming call that starts ringing, once per call: the agent may be
// working in another application.
func (p *callsPanel) announce(ci sipua.CallInfo) {
	if ci.Direction != sipua.Incoming || ci.State != sipua.CallRinging || p.announced[ci.ID] {
		return
	}
	p.announced[ci.ID] = true
	p.u.showWindow() // also out of the tray
	p.u.app.SendNotification(fyne.NewNotification("Incoming call", "Call from "+peerText(ci)))
}

// renderClock redraws the calls' timers.
func (p *callsPanel) renderClock(now time.Time) {
	for _, r := range p.rows {
		r.renderTimer(now)
	}
}

// connectedCall is the call the dial pad's keys send tones on: the one
// connected and not held, if any.
func connectedCall(st core.State) (sipua.CallInfo, bool) {
	for _, ci := range st.Calls {
		if ci.State == sipua.CallConnected {
			return ci, true
		}
	}
	return sipua.CallInfo{}, false
}

// consultations are the other established calls that a call the agent
// holds can be handed over to (attended transfer). Only the held call offers
// it: from both rows the button would do the same twice.
func consultations(calls []sipua.CallInfo, of sipua.CallInfo) []sipua.CallInfo {
	if !established(of.State) || !of.LocalHold {
		return nil
	}
	var out []sipua.CallInfo
	for _, ci := range calls {
		if ci.ID != of.ID && established(ci.State) {
			out = append(out, ci)
		}
	}
	return out
}

func established(s sipua.CallState) bool {
	return s == sipua.CallConnected || s == sipua.CallHeld
}

// callRow is one call: who, how it stands, for how long, its quality, and
// its controls.
type callRow struct {
	u  *UI
	id string

	peer  *widget.Label
	timer *widget.Label
	// accent is a bar in the theme's primary colour on the row's left
	// while the call rings: it draws the eye to a call that waits for the
	// agent. Transparent otherwise, so that rows stay aligned.
	accent  *canvas.Rectangle
	status  *widget.Label
	quality *widget.Label
	failure *failureLabel

	answer, reject, hangup, hold, mute *widget.Button
	target                             *widget.Entry
	transfer                           *widget.Button
	transferBox                        *fyne.Container
	// joins hold one attended-transfer button per consultation call.
	joins *fyne.Container
	box   *fyne.Container

	info sipua.CallInfo
}

func newCallRow(u *UI, id string) *callRow {
	r := &callRow{u: u, id: id}
	r.peer = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	r.timer = widget.NewLabelWithStyle("", fyne.TextAlignTrailing, fyne.TextStyle{Monospace: true})
	r.status = widget.NewLabel("")
	r.status.Truncation = fyne.TextTruncateEllipsis
	r.quality = caption("")
	r.failure = newFailureLabel()

	r.answer = widget.NewButtonWithIcon("Answer", theme.NewThemedResource(assets.Call), r.onAnswer)
	r.answer.Importance = widget.SuccessImportance
	r.reject = widget.NewButtonWithIcon("Reject", theme.CancelIcon(), r.onReject)
	r.reject.Importance = widget.DangerImportance
	r.hangup = widget.NewButtonWithIcon("Hang up", theme.CancelIcon(), r.onHangup)
	r.hangup.Importance = widget.DangerImportance
	r.hold = widget.NewButtonWithIcon("Hold", theme.MediaPauseIcon(), r.onHold)
	r.mute = widget.NewButtonWithIcon("Mute", theme.VolumeMuteIcon(), r.onMute)
	r.target = widget.NewEntry()
	r.target.SetPlaceHolder("Transfer to…")
	r.target.OnChanged = func(string) { enable(r.transfer, strings.TrimSpace(r.target.Text) != "") }
	r.target.OnSubmitted = func(string) {
		if !r.transfer.Disabled() {
			r.onTransfer()
		}
	}
	r.transfer = widget.NewButtonWithIcon("Transfer", theme.MailForwardIcon(), r.onTransfer)
	r.transfer.Disable()
	r.transferBox = container.NewHBox(container.New(&fixedWidth{width: 140}, r.target), r.transfer)
	r.joins = container.NewHBox()

	r.accent = canvas.NewRectangle(color.Transparent)
	r.accent.SetMinSize(fyne.NewSize(5, 0))
	r.accent.CornerRadius = 2

	// Who and how on one line, the quality below: two calls (call waiting,
	// consultation) fit the window with the activity. The timer sits
	// beside the buttons, centred on their line.
	text := container.New(layout.NewCustomPaddedVBoxLayout(-theme.InnerPadding()),
		container.NewBorder(nil, nil, r.peer, nil, r.status), r.quality)
	buttons := container.NewHBox(container.NewCenter(r.timer), r.answer, r.reject, r.hold, r.mute, r.transferBox, r.joins, r.hangup)
	r.box = container.NewVBox(
		container.NewBorder(nil, nil, r.accent, container.NewCenter(buttons), text),
		r.failure.label,
	)
	return r
}

func (r *callRow) render(ci sipua.CallInfo, consult []sipua.CallInfo, now time.Time) {
	r.info = ci
	r.peer.SetText(peerText(ci))
	r.status.SetText(callStatusText(ci))
	r.quality.SetText(qualityText(ci))
	r.quality.Hidden = r.quality.Text == ""
	r.quality.Refresh()
	r.renderTimer(now)

	ringing := ci.State == sipua.CallRinging
	up := established(ci.State)
	r.accent.FillColor = color.Transparent
	r.status.Importance = widget.MediumImportance
	if ringing {
		r.accent.FillColor = theme.Color(theme.ColorNamePrimary)
		r.status.Importance = widget.HighImportance
	}
	r.accent.Refresh()
	r.status.Refresh()
	show(r.answer, ringing)
	show(r.reject, ringing)
	show(r.hangup, !ringing && ci.State != sipua.CallEnding)
	show(r.hold, up)
	show(r.mute, up)
	show(r.transferBox, up)
	if ci.LocalHold {
		r.hold.SetText("Resume")
		r.hold.SetIcon(theme.MediaPlayIcon())
	} else {
		r.hold.SetText("Hold")
		r.hold.SetIcon(theme.MediaPauseIcon())
	}
	if ci.Muted {
		r.mute.SetText("Unmute")
		r.mute.SetIcon(theme.VolumeUpIcon())
	} else {
		r.mute.SetText("Mute")
		r.mute.SetIcon(theme.VolumeMuteIcon())
	}
	r.renderJoins(consult)
}

// renderJoins offers to hand the call over to each other established call:
// the agent called the transfer target first (attended transfer).
func (r *callRow) renderJoins(consult []sipua.CallInfo) {
	objs := make([]fyne.CanvasObject, 0, len(consult))
	for _, c := range consult {
		consultID := c.ID
		b := widget.NewButtonWithIcon("Transfer to "+peerText(c), theme.MailForwardIcon(), func() {
			r.do("attended transfer", "Transfer", func() error { return r.u.b.AttendedTransfer(r.id, consultID) })
		})
		objs = append(objs, b)
	}
	r.joins.Objects = objs
	r.joins.Refresh()
}

func (r *callRow) renderTimer(now time.Time) {
	r.timer.SetText(callTimer(r.info, now))
	show(r.timer, r.timer.Text != "")
}

func (r *callRow) onAnswer() {
	r.do("answer", "Answer", func() error { return r.u.b.Answer(r.id) })
}

func (r *callRow) onReject() {
	r.do("reject", "Reject", func() error { return r.u.b.Reject(r.id) })
}

func (r *callRow) onHangup() {
	r.do("hang up", "Hang up", func() error { return r.u.b.Hangup(r.id) })
}

func (r *callRow) onHold() {
	if r.info.LocalHold {
		r.do("resume", "Resume", func() error { return r.u.b.Resume(r.id) })
		return
	}
	r.do("hold", "Hold", func() error { return r.u.b.Hold(r.id) })
}

func (r *callRow) onMute() {
	on := !r.info.Muted
	what := "Unmute"
	if on {
		what = "Mute"
	}
	r.do("mute", what, func() error { return r.u.b.Mute(r.id, on) })
}

func (r *callRow) onTransfer() {
	target := strings.TrimSpace(r.target.Text)
	r.do("transfer", "Transfer to "+target, func() error { return r.u.b.Transfer(r.id, target) })
}

// do sends a call intent; its failure shows under the call.
func (r *callRow) do(name, what string, call func() error) {
	r.u.intent(name, func(context.Context) error { return call() }, r.failure.done(what))
}

func show(o fyne.CanvasObject, on bool) {
	if on {
		o.Show()
	} else {
		o.Hide()
	}
}

// peerText names the other party: the display name when given, else the
// address.
func peerText(ci sipua.CallInfo) string {
	if ci.PeerName != "" {
		return ci.PeerName
	}
	return strings.TrimPrefix(strings.TrimPrefix(ci.PeerURI, "sip:"), "sips:")
}

// callStatusText is the call's direction and state in the agent's words.
func callStatusText(ci sipua.CallInfo) string {
	dir := "Outgoing call"
	if ci.Direction == sipua.Incoming {
		dir = "Incoming call"
	}
	var state string
	switch ci.State {
	case sipua.CallDialing:
		state = "calling…"
	case sipua.CallRinging:
		state = "ringing"
	case sipua.CallEarly:
		state = "ringing at the other end"
	case sipua.CallConnected:
		state = "connected"
	case sipua.CallHeld:
		switch {
		case ci.LocalHold && ci.RemoteHold:
			state = "on hold (both sides)"
		case ci.LocalHold:
			state = "on hold"
		default:
			state = "held by the other party"
		}
	case sipua.CallEnding:
		state = "hanging up…"
	default:
		state = ci.State.String()
	}
	parts := []string{dir, state}
	if ci.Muted {
		parts = append(parts, "muted")
	}
	switch ci.Transfer {
	case sipua.TransferPending:
		parts = append(parts, "transferring…")
	case sipua.TransferFailed:
		if ci.TransferCode != 0 {
			parts = append(parts, fmt.Sprintf("transfer failed (%d)", ci.TransferCode))
		} else {
			parts = append(parts, "transfer failed")
		}
	}
	return strings.Join(parts, " · ")
}

// qualityText is a connected call's audio: codec, listening quality (MOS),
// loss and jitter of what we receive.
func qualityText(ci sipua.CallInfo) string {
	if ci.State != sipua.CallConnected || !ci.HasMedia {
		return ""
	}
	s := ci.Media.Stats
	parts := []string{codecName(ci.Media.Codec)}
	if ci.Media.Secure {
		parts = append(parts, "SRTP")
	}
	if s.MOS > 0 {
		parts = append(parts, fmt.Sprintf("MOS %.1f", s.MOS))
	}
	parts = append(parts,
		fmt.Sprintf("loss %.1f %%", 100*s.FractionLost),
		fmt.Sprintf("jitter %d ms", s.Jitter.Milliseconds()))
	return strings.Join(parts, " · ")
}

// callTimer is how long a call has been answered: "4:05", "1:02:03"; empty
// before the answer.
func callTimer(ci sipua.CallInfo, now time.Time) string {
	if ci.Answered.IsZero() {
		return ""
	}
	d := max(now.Sub(ci.Answered), 0).Truncate(time.Second)
	h, m, s := int(d/time.Hour), int(d/time.Minute)%60, int(d/time.Second)%60
	if h > 0 {
		return fmt.Sprintf("%d:%02d:%02d", h, m, s)
	}
	return fmt.Sprintf("%d:%02d", m, s)
}
