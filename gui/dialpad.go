package gui

import (
	"context"
	"slices"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/tandem-softphone/tandem/assets"
	"github.com/tandem-softphone/tandem/continuity"
	"github.com/tandem-softphone/tandem/core"
)

// maxRecentNumbers is how many recent numbers the number field offers.
const maxRecentNumbers = 10

// dialKeys are the dial pad's keys, row by row.
const dialKeys = "123456789*0#"

// dialPad is a number field with a dial pad and the call button.
type dialPad struct {
	u       *UI
	card    *widget.Card
	number  *widget.SelectEntry // its list: the recent numbers
	recent  []string
	keys    map[rune]*widget.Button
	erase   *widget.Button
	call    *widget.Button
	note    *widget.Label
	failure *failureLabel
}

func newDialPad(u *UI) *dialPad {
	d := &dialPad{u: u, keys: map[rune]*widget.Button{}}
	d.number = widget.NewSelectEntry(nil)
	d.number.SetPlaceHolder("Number to call")
	d.number.OnChanged = func(string) { d.render(d.u.st) }
	d.number.OnSubmitted = func(string) {
		if !d.call.Disabled() {
			d.onCall()
		}
	}
	grid := container.NewGridWithColumns(3)
	for _, k := range dialKeys {
		b := widget.NewButton(string(k), func() { d.press(k) })
		d.keys[k] = b
		grid.Add(b)
	}
	d.erase = widget.NewButtonWithIcon("", theme.NavigateBackIcon(), d.backspace)
	d.call = widget.NewButtonWithIcon("Call", theme.NewThemedResource(assets.Call), d.onCall)
	d.call.Importance = widget.SuccessImportance
	d.note = caption("")
	d.note.Wrapping = fyne.TextWrapWord
	d.failure = newFailureLabel()
	d.card = card("Dial", container.New(&fixedWidth{width: 220}, container.NewVBox(
		container.NewBorder(nil, nil, nil, d.erase, d.number),
		grid,
		d.call,
		d.note,
		d.failure.label,
	)))
	return d
}

// press adds a key's character to the number or, during a connected call,
// sends it on the call as a tone (DTMF): the agent keys in what an IVR or
// the called party asks for.
func (d *dialPad) press(k rune) {
	if ci, ok := connectedCall(d.u.st); ok {
		id, digit := ci.ID, string(k)
		d.u.intent("dtmf", func(context.Context) error { return d.u.b.SendDTMF(id, digit) }, d.failure.done("Tone "+digit))
		return
	}
	d.number.SetText(d.number.Text + string(k))
}

func (d *dialPad) backspace() {
	if r := []rune(d.number.Text); len(r) > 0 {
		d.number.SetText(string(r[:len(r)-1]))
	}
}

func (d *dialPad) dialer() Dialer {
	dl, _ := d.u.b.(Dialer)
	return dl
}

func (d *dialPad) render(st core.State) {
	if recent := core.RecentNumbers(st.CallHistory, maxRecentNumbers); !slices.Equal(recent, d.recent) {
		d.recent = recent
		d.number.SetOptions(recent)
	}
	dl := d.dialer()
	enable(d.call, dl != nil && st.Phase == continuity.LoggedIn && strings.TrimSpace(d.number.Text) != "")
	ci, onCall := connectedCall(st)
	switch {
	case onCall:
		d.note.SetText("The keys send tones to " + peerText(ci) + ".")
	case dl == nil:
		d.note.SetText("Calling is not available in this version.")
	case st.Phase != continuity.LoggedIn:
		d.note.SetText("Calls can be made once you are logged in at a site.")
	default:
		d.note.SetText("")
	}
	d.note.Hidden = d.note.Text == ""
	d.note.Refresh()
}

func (d *dialPad) onCall() {
	dl := d.dialer()
	if dl == nil {
		return
	}
	number := strings.TrimSpace(d.number.Text)
	d.u.intent("dial", func(ctx context.Context) error { return dl.Dial(ctx, number) }, d.failure.done("Call "+number))
}
