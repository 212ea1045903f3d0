package gui

import (
	"context"
	"errors"
	"strings"
	"testing"

	"fyne.io/fyne/v2/test"

	"github.com/tandem-softphone/tandem/audio"
	"github.com/tandem-softphone/tandem/core"
)

// audioBackend is a fake backend with sound devices.
type audioBackend struct {
	*fakeBackend
	onLevel  func(float64)
	stopped  int
	meterErr error
}

func (a *audioBackend) Devices(kind audio.Kind) ([]audio.DeviceInfo, error) {
	if kind == audio.Capture {
		return []audio.DeviceInfo{{ID: "hw:0", Name: "Headset microphone", Kind: kind, Default: true}}, nil
	}
	return []audio.DeviceInfo{
		{ID: "hw:0", Name: "Headset", Kind: kind, Default: true},
		{ID: "hw:1", Name: "Laptop speakers", Kind: kind},
	}, nil
}
func (a *audioBackend) SetAudioDevices(d core.AudioDevices) {
	a.record("SetAudioDevices(%s,%s,%s)", d.Input, d.Output, d.Ring)
}
func (a *audioBackend) PlayTestTone(context.Context) error { return a.record("PlayTestTone") }
func (a *audioBackend) MeterInput(fn func(float64)) (func(), error) {
	if a.meterErr != nil {
		return nil, a.meterErr
	}
	a.onLevel = fn
	return func() { a.stopped++ }, nil
}

// The stored choice reaches the backend at start; a new choice is stored
// (by device ID) and handed over at once; the test tone plays; the meter
// runs while the settings are open.
func TestAudioSettings(t *testing.T) {
	a := &audioBackend{fakeBackend: newFake(sampleReady())}
	u := newTestUIWith(t, a, func(*Options) {
		testApp.Preferences().SetString(prefRing, "hw:1")
	})
	t.Cleanup(func() {
		for _, k := range []string{prefInput, prefOutput, prefRing} {
			testApp.Preferences().RemoveValue(k)
		}
	})
	wantCalls(t, a.fakeBackend, "SetAudioDevices(,,hw:1)")
	u.showSettings()
	p := u.sound
	if p == nil || p.output == nil {
		t.Fatal("no sound settings")
	}
	if p.ring.Selected != "Laptop speakers" || p.output.Selected != defaultDevice {
		t.Fatalf("ring %q output %q", p.ring.Selected, p.output.Selected)
	}
	p.output.SetSelected("Laptop speakers")
	if got := u.app.Preferences().String(prefOutput); got != "hw:1" {
		t.Fatalf("output stored as %q", got)
	}
	test.Tap(p.test)
	wantCalls(t, a.fakeBackend, "SetAudioDevices(,,hw:1)", "SetAudioDevices(,hw:1,hw:1)", "PlayTestTone")

	if a.onLevel == nil {
		t.Fatal("the meter is not running")
	}
	a.onLevel(-30)
	if p.meter.Value != 0.5 {
		t.Fatalf("meter %v for -30 dBFS, want 0.5", p.meter.Value)
	}
	p.stopMeter()
	if a.stopped != 1 || p.meter.Value != 0 {
		t.Fatalf("meter stopped %d times, value %v", a.stopped, p.meter.Value)
	}
}

// A microphone that cannot be opened hides the meter and says why.
func TestAudioSettingsMeterFails(t *testing.T) {
	a := &audioBackend{fakeBackend: newFake(sampleReady()), meterErr: errors.New("no such device")}
	u := newTestUI(t, a)
	u.showSettings()
	p := u.sound
	if p.meter.Visible() || !p.note.Visible() || !strings.Contains(p.note.Text, "Microphone failed: no such device") {
		t.Fatalf("meter visible %v, note %q", p.meter.Visible(), p.note.Text)
	}
}

func TestGoldenSettingsAudio(t *testing.T) {
	skipUnderRace(t)
	a := &audioBackend{fakeBackend: newFake(sampleReady())}
	u := newTestUI(t, a)
	u.setTheme(themeLight)
	u.win.Resize(defaultWindowSize)
	u.showSettings()
	u.sound.meter.SetValue(0.6)
	test.AssertImageMatches(t, "settings_audio.png", u.win.Canvas().Capture())
}
