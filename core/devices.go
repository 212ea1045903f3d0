package core

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/tandem-softphone/tandem/audio"
	"github.com/tandem-softphone/tandem/media/tone"
	"github.com/tandem-softphone/tandem/sipua"
)

// ErrNoAudio: the core has no audio backend (Options.Endpoint.Audio).
var ErrNoAudio = errors.New("no audio backend")

// AudioDevices are the agent's choice of sound devices, by the backend's
// device ID; "" is the system's default device. Ring is where incoming
// calls ring ("": the default playback device).
type AudioDevices struct {
	Input, Output, Ring string
}

// TestToneDuration is how long PlayTestTone plays.
const TestToneDuration = 1500 * time.Millisecond

// testTone is the test tone: 1 kHz, comfortably loud.
var testTone = tone.Spec{Freqs: []float64{1000}, Level: 0.3}

// meterInterval is how often MeterInput reports a level.
const meterInterval = 100 * time.Millisecond

// deviceRate is the sample rate of the ringtone, the test tone and the
// meter: a call's.
const deviceRate = 8000

// audioState is the device choice and the ringtone playing. Its own lock:
// devices are opened and closed under it, never under Core.mu (which may
// be taken inside it, never the other way round).
type audioState struct {
	mu      sync.Mutex
	devices AudioDevices
	ring    audio.Device // the ringtone while an incoming call rings
	// answering counts the answers under way per call (a double click
	// makes two): the call still says ringing until the endpoint reports
	// the answer, but must not ring, and no call rings meanwhile (the ring
	// device may be the call's).
	answering map[string]int
}

func (c *Core) backend() (audio.Backend, error) {
	if c.opts.Endpoint.Audio == nil {
		return nil, ErrNoAudio
	}
	return c.opts.Endpoint.Audio, nil
}

// Devices lists the audio backend's devices of a kind.
func (c *Core) Devices(kind audio.Kind) ([]audio.DeviceInfo, error) {
	b, err := c.backend()
	if err != nil {
		return nil, err
	}
	devs, err := b.Devices(kind)
	if err != nil {
		return nil, fmt.Errorf("audio %s devices: %w", kind, err)
	}
	return devs, nil
}

// SetAudioDevices chooses the devices, which take effect at once: the
// ringtone and the test tone use them, and the running SIP endpoint moves
// the call that talks to Input and Output and opens them for the calls
// after it. A device that fails to open gives way to the default (the
// endpoint logs it); when not even the default opens, the call goes on
// without it and a warning is logged.
func (c *Core) SetAudioDevices(d AudioDevices) {
	// Under the lock, so that of two choices made at once the endpoint
	// ends with the one recorded last.
	c.aud.mu.Lock()
	defer c.aud.mu.Unlock()
	c.aud.devices = d
	c.mu.Lock()
	ep := c.ep
	c.mu.Unlock()
	if ep == nil {
		return // the endpoint starts with them (applyAudioDevices)
	}
	if err := ep.SetAudioDevices(d.Input, d.Output); err != nil {
		c.log.Warn("audio devices", "input", deviceLabel(d.Input), "output", deviceLabel(d.Output), "err", err)
	}
}

// AudioDevices returns the devices chosen.
func (c *Core) AudioDevices() AudioDevices {
	c.aud.mu.Lock()
	defer c.aud.mu.Unlock()
	return c.aud.devices
}

// PlayTestTone plays a tone on the chosen output device for
// TestToneDuration, or until ctx ends.
func (c *Core) PlayTestTone(ctx context.Context) error {
	b, err := c.backend()
	if err != nil {
		return err
	}
	gen, err := tone.New(deviceRate, testTone)
	if err != nil {
		return err
	}
	out := c.AudioDevices().Output
	d, err := b.OpenPlayback(out, audio.Config{SampleRate: deviceRate}, gen.Read)
	if err != nil {
		return fmt.Errorf("test tone on %s: %w", deviceLabel(out), err)
	}
	t := time.NewTimer(TestToneDuration)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
	return d.Close()
}

// MeterInput captures from the chosen input device and reports its level
// (dBFS, audio.Level) every meterInterval: the loudest period since the
// last report. onLevel runs on the audio backend's thread and must not
// block. stop ends the capture.
func (c *Core) MeterInput(onLevel func(dBFS float64)) (stop func(), err error) {
	b, err := c.backend()
	if err != nil {
		return nil, err
	}
	cfg := audio.Config{SampleRate: deviceRate}
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	every := max(int(meterInterval/cfg.Period), 1)
	n, peak := 0, audio.SilenceDBFS
	in := c.AudioDevices().Input
	d, err := b.OpenCapture(in, cfg, func(pcm []int16) {
		peak = max(peak, audio.Level(pcm))
		if n++; n == every {
			onLevel(peak)
			n, peak = 0, audio.SilenceDBFS
		}
	})
	if err != nil {
		return nil, fmt.Errorf("microphone %s: %w", deviceLabel(in), err)
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			if err := d.Close(); err != nil {
				c.log.Warn("close the metered microphone", "err", err)
			}
		})
	}, nil
}

// deviceLabel names a device choice in an error.
func deviceLabel(id string) string {
	if id == "" {
		return "(the system default)"
	}
	return strconv.Quote(id)
}

// applyAudioDevices puts the chosen devices in the endpoint's options.
func (c *Core) applyAudioDevices(o *sipua.Options) {
	d := c.AudioDevices()
	o.CaptureDevice, o.PlaybackDevice = d.Input, d.Output
}

// updateRinging rings on the ring device while an incoming call rings,
// and stops once none does (answered, turned down, given up). The
// decision and the device change are made under one lock, so that a
// ringtone stopped for an answer (stopRingingFor) cannot come back from
// an older reading of the calls.
func (c *Core) updateRinging() {
	b, err := c.backend()
	if err != nil {
		return
	}
	c.aud.mu.Lock()
	defer c.aud.mu.Unlock()
	c.mu.Lock()
	ringing := false
	for _, ci := range c.st.Calls {
		if ci.Direction == sipua.Incoming && ci.State == sipua.CallRinging {
			ringing = ringing || c.aud.answering[ci.ID] == 0
		} else {
			delete(c.aud.answering, ci.ID) // answered (or ended): done
		}
	}
	for id := range c.aud.answering {
		if !slices.ContainsFunc(c.st.Calls, func(ci sipua.CallInfo) bool { return ci.ID == id }) {
			delete(c.aud.answering, id)
		}
	}
	c.mu.Unlock()
	if len(c.aud.answering) > 0 || c.closing.Load() {
		ringing = false
	}
	switch {
	case ringing && c.aud.ring == nil:
		d, err := audio.PlayRingtone(b, c.aud.devices.Ring, audio.Config{SampleRate: deviceRate}, audio.Ringtone{})
		if err != nil {
			c.log.Warn("ringtone", "device", c.aud.devices.Ring, "err", err)
			return
		}
		c.aud.ring = d
	case !ringing && c.aud.ring != nil:
		c.closeRingLocked()
	}
}

// stopRingingFor stops the ringtone, its device closed when it returns,
// before call id is answered: the call's audio may need the same device
// (the default ring device is the default output; a WAV or an exclusive
// ALSA device opens once). No call rings until the answer is over.
func (c *Core) stopRingingFor(id string) {
	if _, err := c.backend(); err != nil {
		return // nothing rings
	}
	c.aud.mu.Lock()
	defer c.aud.mu.Unlock()
	if c.aud.answering == nil {
		c.aud.answering = make(map[string]int)
	}
	c.aud.answering[id]++
	if c.aud.ring != nil {
		c.closeRingLocked()
	}
}

// answerFailed undoes stopRingingFor after a failed answer: the calls
// still ringing ring again. After a good answer the mark stays until the
// call's event says it no longer rings (updateRinging), lest the ringtone
// come back on the state of just before the answer.
func (c *Core) answerFailed(id string) {
	c.aud.mu.Lock()
	if c.aud.answering[id]--; c.aud.answering[id] <= 0 {
		delete(c.aud.answering, id)
	}
	c.aud.mu.Unlock()
	c.updateRinging()
}

func (c *Core) closeRingLocked() {
	if err := c.aud.ring.Close(); err != nil {
		c.log.Warn("stop the ringtone", "err", err)
	}
	c.aud.ring = nil
}
