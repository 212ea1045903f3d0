package gui

import (
	"context"
	"fmt"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/tandem-softphone/tandem/audio"
	"github.com/tandem-softphone/tandem/core"
)

// AudioSettings is implemented by a backend with sound devices: the
// settings then offer the device choice, a test tone and a microphone meter.
type AudioSettings interface {
	Devices(kind audio.Kind) ([]audio.DeviceInfo, error)
	SetAudioDevices(core.AudioDevices)
	PlayTestTone(ctx context.Context) error
	MeterInput(onLevel func(dBFS float64)) (stop func(), err error)
}

var _ AudioSettings = (*core.Core)(nil)

// Preference keys of the device choice: device IDs, "" the default.
const (
	prefInput  = "audio-input"
	prefOutput = "audio-output"
	prefRing   = "audio-ring"
)

// defaultDevice is the choice of the system's default device.
const defaultDevice = "System default"

func (u *UI) audioSettings() AudioSettings {
	a, _ := u.b.(AudioSettings)
	return a
}

// applyAudioPrefs hands the stored device choice to the backend.
func (u *UI) applyAudioPrefs() {
	if a := u.audioSettings(); a != nil {
		a.SetAudioDevices(u.audioPrefs())
	}
}

func (u *UI) audioPrefs() core.AudioDevices {
	p := u.app.Preferences()
	return core.AudioDevices{Input: p.String(prefInput), Output: p.String(prefOutput), Ring: p.String(prefRing)}
}

// audioPanel is the settings' sound part.
type audioPanel struct {
	u      *UI
	a      AudioSettings
	items  []*widget.FormItem
	input  *widget.Select
	output *widget.Select
	ring   *widget.Select
	test   *widget.Button
	note   *widget.Label
	meter  *widget.ProgressBar
	stop   func()
}

// newAudioPanel builds the device choices; nil without sound devices.
func (u *UI) newAudioPanel() *audioPanel {
	a := u.audioSettings()
	if a == nil {
		return nil
	}
	p := &audioPanel{u: u, a: a, note: caption("")}
	p.note.Wrapping = fyne.TextWrapWord
	ins, err1 := a.Devices(audio.Capture)
	outs, err2 := a.Devices(audio.Playback)
	if err := firstErr(err1, err2); err != nil {
		p.note.SetText("No sound devices: " + err.Error())
		p.items = []*widget.FormItem{widget.NewFormItem("Sound", p.note)}
		return p
	}
	prefs := u.audioPrefs()
	p.input = p.deviceSelect(ins, prefInput, prefs.Input)
	p.output = p.deviceSelect(outs, prefOutput, prefs.Output)
	p.ring = p.deviceSelect(outs, prefRing, prefs.Ring)
	p.test = widget.NewButtonWithIcon("Play a test tone", theme.VolumeUpIcon(), p.playTone)
	p.meter = widget.NewProgressBar()
	p.meter.TextFormatter = func() string { return "" }
	p.note.Hide()
	p.items = []*widget.FormItem{
		widget.NewFormItem("Microphone", container.NewBorder(nil, nil, nil, container.New(&fixedWidth{width: 120}, p.meter), p.input)),
		widget.NewFormItem("Speaker", container.NewBorder(nil, nil, nil, p.test, p.output)),
		widget.NewFormItem("Ringing on", p.ring),
		widget.NewFormItem("", p.note),
	}
	return p
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// deviceSelect offers the system default and each device by name; the
// choice is stored by device ID and handed to the backend at once.
func (p *audioPanel) deviceSelect(devs []audio.DeviceInfo, key, current string) *widget.Select {
	opts := []string{defaultDevice}
	ids := map[string]string{defaultDevice: ""}
	selected := defaultDevice
	for _, d := range devs {
		label := d.Name
		if _, dup := ids[label]; dup {
			label = fmt.Sprintf("%s (%s)", d.Name, d.ID)
		}
		opts = append(opts, label)
		ids[label] = d.ID
		if d.ID == current {
			selected = label
		}
	}
	s := widget.NewSelect(opts, nil)
	s.SetSelected(selected)
	s.OnChanged = func(label string) {
		p.u.app.Preferences().SetString(key, ids[label])
		p.u.applyAudioPrefs()
		if key == prefInput {
			p.restartMeter()
		}
	}
	return s
}

// playTone plays the test tone on the chosen output.
func (p *audioPanel) playTone() {
	p.test.Disable()
	p.u.intentWithin(2*core.TestToneDuration, "test tone", p.a.PlayTestTone, func(err error) {
		p.test.Enable()
		p.showErr("Test tone", err)
	})
}

func (p *audioPanel) showErr(what string, err error) {
	if err == nil {
		p.note.Hide()
		return
	}
	p.note.SetText(what + " failed: " + err.Error())
	p.note.Show()
}

// startMeter shows the chosen microphone's level while the settings are
// open.
func (p *audioPanel) startMeter() {
	if p.meter == nil || p.stop != nil {
		return
	}
	stop, err := p.a.MeterInput(func(dBFS float64) {
		v := audio.MeterFraction(dBFS)
		fyne.Do(func() { p.meter.SetValue(v) })
	})
	if err != nil {
		p.meter.Hide()
		p.showErr("Microphone", err)
		return
	}
	p.meter.Show()
	p.stop = stop
}

func (p *audioPanel) stopMeter() {
	if p.stop != nil {
		p.stop()
		p.stop = nil
	}
	if p.meter != nil {
		p.meter.SetValue(0)
	}
}

func (p *audioPanel) restartMeter() {
	p.stopMeter()
	p.startMeter()
}
