// Package audio connects calls to sound: a Backend opens capture and
// playback devices that run mono 16-bit PCM through frame callbacks.
//
// This package holds the interface, the WAV backend (a file as the
// microphone, what is heard recorded to a file: for tests and headless
// use) and ringtone playback. Real sound cards and miniaudio's null
// device are in audio/native, which needs cgo.
//
// A call wires a capture device's callback to rtpstream.Stream.Write and
// a playback device's callback to rtpstream.Stream.Read.
package audio

import (
	"errors"
	"fmt"
	"time"
)

// Kind is the direction of a device.
type Kind int

// The two kinds of device.
const (
	Capture Kind = iota + 1
	Playback
)

func (k Kind) String() string {
	switch k {
	case Capture:
		return "capture"
	case Playback:
		return "playback"
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// DeviceInfo describes a device a backend offers.
type DeviceInfo struct {
	ID      string // stable identifier within the backend
	Name    string // for people
	Kind    Kind
	Default bool // the system's default device of its kind
}

// DefaultPeriod is the callback period when Config.Period is 0.
const DefaultPeriod = 20 * time.Millisecond

// Config sets up a device.
type Config struct {
	SampleRate int           // Hz, mono 16-bit: 8000, 16000 or 48000 for calls
	Period     time.Duration // audio per callback; 0 means DefaultPeriod

	// OnFallback, if set, hears that the device asked for was missing or
	// disappeared and the backend moved to the default one (named).
	OnFallback func(device string)
}

// Check validates cfg and fills in defaults.
func (c *Config) Check() error {
	if c.SampleRate < 8000 || c.SampleRate > 192000 {
		return fmt.Errorf("audio: sample rate %d Hz out of range", c.SampleRate)
	}
	if c.Period == 0 {
		c.Period = DefaultPeriod
	}
	if c.Period < time.Millisecond || c.Period > time.Second {
		return fmt.Errorf("audio: period %v out of range", c.Period)
	}
	return nil
}

// Samples is how many samples one period holds.
func (c Config) Samples() int { return int(c.Period * time.Duration(c.SampleRate) / time.Second) }

// Backend opens devices. A device name of "" means the default device;
// otherwise it is matched against DeviceInfo.ID, then DeviceInfo.Name.
type Backend interface {
	Devices(kind Kind) ([]DeviceInfo, error)
	// OpenCapture starts capturing: onFrame receives each period of audio
	// from the backend's own goroutine or thread. It must not block, and
	// must not keep pcm after it returns.
	OpenCapture(device string, cfg Config, onFrame func(pcm []int16)) (Device, error)
	// OpenPlayback starts playing: fill is called for each period and
	// fills pcm entirely (silence where it has nothing). It must not block.
	OpenPlayback(device string, cfg Config, fill func(pcm []int16)) (Device, error)
	// Close releases the backend; its devices must be closed first.
	Close() error
}

// Device is an open device; it runs from Open until Close.
type Device interface {
	// Name is the device in use (after any fallback).
	Name() string
	Close() error
}

// ErrNoDevice is returned when no device of the kind exists at all.
var ErrNoDevice = errors.New("audio: no such device")

// Find returns the device named by id or name among devs.
func Find(devs []DeviceInfo, device string) (DeviceInfo, bool) {
	for _, d := range devs {
		if d.ID == device {
			return d, true
		}
	}
	for _, d := range devs {
		if d.Name == device {
			return d, true
		}
	}
	return DeviceInfo{}, false
}

// Resample converts pcm from one rate to another by linear
// interpolation: enough for prompts and ringtones read from files.
func Resample(pcm []int16, from, to int) []int16 {
	if from == to || len(pcm) == 0 || from <= 0 || to <= 0 {
		return pcm
	}
	n := int(int64(len(pcm)) * int64(to) / int64(from))
	out := make([]int16, n)
	for i := range out {
		pos := float64(i) * float64(from) / float64(to)
		j := int(pos)
		if j >= len(pcm)-1 {
			out[i] = pcm[len(pcm)-1]
			continue
		}
		f := pos - float64(j)
		out[i] = int16(float64(pcm[j])*(1-f) + float64(pcm[j+1])*f)
	}
	return out
}
