package sipua

import (
	"errors"
	"fmt"

	"github.com/tandem-softphone/tandem/audio"
	"github.com/tandem-softphone/tandem/media/rtpstream"
)

// deviceChoice names the devices of Options.Audio that calls open; ""
// means the backend's default.
type deviceChoice struct {
	capture, playback string
}

// SetAudioDevices chooses the capture and playback devices of
// Options.Audio ("" the backend's default) for the calls from now on, and
// moves the call that has the audio devices to them at once: its old
// device closes and the new one opens on the same stream, whose clock,
// SSRC and sequence numbers go on (the peer gets silence for the moment
// of the switch). A device chosen again stays open, unless it had failed
// and is tried anew. A device that fails to open gives way to the
// backend's default, with a warning, as a device lost during a call does;
// the error reports a device that not even the default could replace.
// Without an audio backend the choice is only recorded.
func (e *Endpoint) SetAudioDevices(capture, playback string) error {
	e.audioMu.Lock()
	defer e.audioMu.Unlock()
	e.devices = deviceChoice{capture: capture, playback: playback}
	t := &e.audio
	if e.opts.Audio == nil || t.call == nil {
		return nil
	}
	var errs []error
	changed := false
	// The old device closes first: a backend may open a device only once (the WAV
	// backend; an exclusive ALSA device), and the default it falls back to
	// may be the device just left.
	if capture != t.opened.capture || t.capture == nil {
		if t.capture != nil {
			errs = append(errs, t.capture.Close())
		}
		var err error
		t.capture, t.opened.capture, err = e.openDevice(t.call, t.stream, audio.Capture, capture)
		errs, changed = append(errs, err), true
	}
	if playback != t.opened.playback || t.playback == nil {
		if t.playback != nil {
			errs = append(errs, t.playback.Close())
		}
		var err error
		t.playback, t.opened.playback, err = e.openDevice(t.call, t.stream, audio.Playback, playback)
		errs, changed = append(errs, err), true
	}
	if changed {
		t.call.log.Info("audio devices changed", "capture", deviceName(t.capture), "playback", deviceName(t.playback))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("sipua: audio devices: %w", err)
	}
	return nil
}

// openDevice opens the device of kind named device for call c's stream s:
// capture feeds s.Write, playback drains s.Read. A device that fails to
// open gives way to the backend's default. It returns the device and the
// name it was opened by ("" for the default), or nil and the reason.
func (e *Endpoint) openDevice(c *Call, s *rtpstream.Stream, kind audio.Kind, device string) (audio.Device, string, error) {
	cfg := audio.Config{SampleRate: callSampleRate}
	open := func(name string) (audio.Device, error) {
		if kind == audio.Capture {
			return e.opts.Audio.OpenCapture(name, cfg, s.Write)
		}
		return e.opts.Audio.OpenPlayback(name, cfg, s.Read)
	}
	d, err := open(device)
	if err == nil {
		return d, device, nil
	}
	if device == "" {
		return nil, "", fmt.Errorf("audio %s (default): %w", kind, err)
	}
	c.log.Warn("audio device failed, using the default", "kind", kind, "device", device, "error", err)
	d, errDefault := open("")
	if errDefault != nil {
		return nil, "", fmt.Errorf("audio %s %q: %w; the default: %w", kind, device, err, errDefault)
	}
	return d, "", nil
}

// deviceName names an open device for the log; "none" when it is not open.
func deviceName(d audio.Device) string {
	if d == nil {
		return "none"
	}
	return d.Name()
}
