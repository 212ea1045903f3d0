package core

import (
	"context"
	"errors"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tandem-softphone/tandem/audio"
	"github.com/tandem-softphone/tandem/media/tone"
	"github.com/tandem-softphone/tandem/media/wav"
	"github.com/tandem-softphone/tandem/sipua"
	"github.com/tandem-softphone/tandem/sitesim"
)

// wavBackend is a WAV audio backend whose microphone plays a half-scale
// 1 kHz sine, with the speaker and the ring device recorded in dir.
func wavBackend(t *testing.T) (*audio.WAV, string) {
	t.Helper()
	dir := t.TempDir()
	pcm, err := tone.Generate(8000, tone.Spec{Freqs: []float64{1000}, Level: 0.5}, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	mic := filepath.Join(dir, "mic.wav")
	if err := wav.WriteFile(mic, 8000, pcm); err != nil {
		t.Fatal(err)
	}
	b := audio.NewWAV(audio.WAVOptions{Mic: mic, Loop: true, Speaker: filepath.Join(dir, "speaker.wav"), Ring: filepath.Join(dir, "ring.wav"), Logger: testLog})
	t.Cleanup(func() { b.Close() })
	return b, dir
}

// recordedLevel is the level of what a WAV device recorded, and its length.
func recordedLevel(t *testing.T, file string) (float64, time.Duration) {
	t.Helper()
	rate, pcm, err := wav.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return audio.Level(pcm), time.Duration(len(pcm)) * time.Second / time.Duration(rate)
}

func TestAudioDevicesNeedABackend(t *testing.T) {
	sim := startSim(t, nil)
	c := startCore(t, sim, "agent1", nil)
	if _, err := c.Devices(audio.Playback); !errors.Is(err, ErrNoAudio) {
		t.Fatalf("Devices: %v", err)
	}
	if err := c.PlayTestTone(context.Background()); !errors.Is(err, ErrNoAudio) {
		t.Fatalf("PlayTestTone: %v", err)
	}
	if _, err := c.MeterInput(func(float64) {}); !errors.Is(err, ErrNoAudio) {
		t.Fatalf("MeterInput: %v", err)
	}
}

// The devices are listed from the backend; the test tone plays on the
// chosen output, and the meter hears the chosen input's level.
func TestTestToneAndMeter(t *testing.T) {
	b, dir := wavBackend(t)
	sim := startSim(t, nil)
	c := startCore(t, sim, "agent1", func(o *Options) { o.Endpoint.Audio = b })
	devs, err := c.Devices(audio.Playback)
	if err != nil || len(devs) != 2 {
		t.Fatalf("playback devices %+v %v", devs, err)
	}
	c.SetAudioDevices(AudioDevices{Input: audio.WAVMic, Output: audio.WAVRing, Ring: audio.WAVSpeaker})
	if got := c.AudioDevices(); got.Output != audio.WAVRing {
		t.Fatalf("devices %+v", got)
	}

	// On the chosen output (here the WAV "ring" device), not the other.
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := c.PlayTestTone(ctx); err != nil {
		t.Fatal(err)
	}
	lvl, d := recordedLevel(t, filepath.Join(dir, "ring.wav"))
	if math.Abs(lvl-(-13.5)) > 1 || d < 100*time.Millisecond {
		t.Fatalf("test tone recorded at %.1f dBFS for %v, want a 0.3 sine (-13.5 dBFS)", lvl, d)
	}

	var mu sync.Mutex
	var levels []float64
	stop, err := c.MeterInput(func(l float64) {
		mu.Lock()
		levels = append(levels, l)
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		n := len(levels)
		mu.Unlock()
		if n >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d levels in 5 s", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	stop()
	stop() // twice is harmless
	mu.Lock()
	defer mu.Unlock()
	for _, l := range levels {
		if math.Abs(l-(-9.03)) > 1 {
			t.Fatalf("meter levels %v, want the half-scale sine's -9 dBFS", levels)
		}
	}
}

// An incoming call rings on the ring device until it is answered.
func TestRingtoneOnRingDevice(t *testing.T) {
	b, dir := wavBackend(t)
	sim := startSim(t, nil)
	c := startCore(t, sim, "agent1", func(o *Options) { o.Endpoint.Audio = b })
	c.SetAudioDevices(AudioDevices{Ring: audio.WAVRing})
	login(t, c, 1)
	if _, err := sim.Call(sitesim.CallRequest{To: "5001"}); err != nil {
		t.Fatal(err)
	}
	s := waitState(t, c, "the call rings", func(s State) bool { _, ok := RingingCall(s.Calls); return ok })
	ringing := func() bool {
		c.aud.mu.Lock()
		defer c.aud.mu.Unlock()
		return c.aud.ring != nil
	}
	waitState(t, c, "the ringtone plays", func(State) bool { return ringing() })
	time.Sleep(300 * time.Millisecond) // some ringing to record
	ci, _ := RingingCall(s.Calls)
	if err := c.Answer(ci.ID); err != nil {
		t.Fatal(err)
	}
	waitState(t, c, "the ringtone stops at the answer", func(State) bool { return !ringing() })
	lvl, d := recordedLevel(t, filepath.Join(dir, "ring.wav"))
	if lvl < -30 || d < 200*time.Millisecond {
		t.Fatalf("ring device recorded %.1f dBFS for %v: no ringtone", lvl, d)
	}
}

// zeroCrossings is how many times a second pcm (at 8 kHz) changes sign:
// twice a sine's frequency.
func zeroCrossings(pcm []int16) float64 {
	n := 0
	for i := 1; i < len(pcm); i++ {
		if (pcm[i-1] < 0) != (pcm[i] < 0) {
			n++
		}
	}
	return float64(n) * 8000 / float64(max(len(pcm), 1))
}

// With the default ring device (the default output, the WAV speaker) the
// ringtone stops, its device closed, before the call is answered: the call
// then plays on the speaker the caller's 1004 Hz tone, not the ringtone
// (440+480 Hz), and no device is found already open. Answered twice at
// once, the call still gets the speaker.
func TestAnswerOnTheRingDevice(t *testing.T) {
	c, dir, ci := ringingOnWAV(t)
	waitState(t, c, "the ringtone plays", func(State) bool {
		c.aud.mu.Lock()
		defer c.aud.mu.Unlock()
		return c.aud.ring != nil
	})
	// A double click: two answers at once, one of which fails; the
	// failure does not bring the ringtone back over the other's answer.
	errs := make(chan error, 2)
	for range 2 {
		go func() { errs <- c.Answer(ci.ID) }()
	}
	if err1, err2 := <-errs, <-errs; (err1 == nil) == (err2 == nil) {
		t.Fatalf("two answers: %v and %v; want one to succeed", err1, err2)
	}
	waitState(t, c, "connected", func(s State) bool {
		return len(s.Calls) == 1 && s.Calls[0].State == sipua.CallConnected
	})
	time.Sleep(1200 * time.Millisecond) // the caller's tone plays
	c.aud.mu.Lock()
	ringing := c.aud.ring != nil
	c.aud.mu.Unlock()
	if ringing {
		t.Fatal("the ringtone came back during the call")
	}
	if err := c.Hangup(ci.ID); err != nil {
		t.Fatal(err)
	}
	waitState(t, c, "the call ended", func(s State) bool { return len(s.Calls) == 0 })
	file := filepath.Join(dir, "speaker.wav")
	var pcm []int16
	deadline := time.Now().Add(5 * time.Second)
	for {
		// The speaker's file is complete once the call closed the device.
		_, p, err := wav.ReadFile(file)
		if err == nil && len(p) >= 8000 {
			pcm = p
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the speaker recorded %d samples (%v): not the call", len(p), err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// What the speaker played loud enough to hear, in 100 ms windows: the
	// caller's tone, not the ringtone (about 920 zero crossings/s). The
	// median, as a loaded machine leaves gaps and concealed frames.
	var rates []float64
	for from := 0; from+800 <= len(pcm); from += 800 {
		if w := pcm[from : from+800]; audio.Level(w) > -20 {
			rates = append(rates, zeroCrossings(w))
		}
	}
	slices.Sort(rates)
	if len(rates) < 3 || math.Abs(rates[len(rates)/2]-2008) > 150 {
		t.Fatalf("the speaker's loud windows cross zero %v times/s; want mostly the caller's 1004 Hz tone (2008/s)", rates)
	}
}

// ringingOnWAV logs agent1 in on a core with the WAV audio backend (its
// files in dir) and returns once a customer's call to it rings.
func ringingOnWAV(t *testing.T) (c *Core, dir string, ci sipua.CallInfo) {
	t.Helper()
	b, dir := wavBackend(t)
	sim := startSim(t, nil)
	c = startCore(t, sim, "agent1", func(o *Options) { o.Endpoint.Audio = b })
	login(t, c, 1)
	if _, err := sim.Call(sitesim.CallRequest{To: "5001"}); err != nil {
		t.Fatal(err)
	}
	s := waitState(t, c, "the call rings", func(s State) bool { _, ok := RingingCall(s.Calls); return ok })
	ci, _ = RingingCall(s.Calls)
	return c, dir, ci
}

// wavSeconds is how much audio a WAV device recorded so far, by its
// file's size (the header is filled in only when the device closes).
func wavSeconds(t *testing.T, file string) float64 {
	t.Helper()
	fi, err := os.Stat(file)
	if errors.Is(err, fs.ErrNotExist) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return float64(max(fi.Size()-44, 0)) / (2 * deviceRate)
}

// A device chosen during a call reaches the call at once: its sound moves
// from the speaker to the other output, and the speaker records no more.
func TestSetAudioDevicesDuringCall(t *testing.T) {
	c, dir, ci := ringingOnWAV(t)
	speaker, other := filepath.Join(dir, "speaker.wav"), filepath.Join(dir, "ring.wav")
	if err := c.Answer(ci.ID); err != nil {
		t.Fatal(err)
	}
	waitState(t, c, "the speaker plays the call", func(s State) bool {
		return len(s.Calls) == 1 && s.Calls[0].State == sipua.CallConnected && wavSeconds(t, speaker) > 0.3
	})

	c.SetAudioDevices(AudioDevices{Output: audio.WAVRing})
	// The speaker's device closed before SetAudioDevices returned.
	spoke := wavSeconds(t, speaker)
	waitState(t, c, "the other output plays the call", func(State) bool { return wavSeconds(t, other) > 1 })
	if n := wavSeconds(t, speaker); n != spoke {
		t.Errorf("the speaker went on recording after the switch: %.2f s, then %.2f s", spoke, n)
	}
	if err := c.Hangup(ci.ID); err != nil {
		t.Fatal(err)
	}
	waitState(t, c, "the call ended", func(s State) bool { return len(s.Calls) == 0 })
	var pcm []int16
	waitState(t, c, "the other output's recording is complete", func(State) bool {
		_, p, err := wav.ReadFile(other)
		pcm = p
		return err == nil && len(p) >= deviceRate
	})
	// The caller's tone plays at -13.5 dBFS; a loaded machine leaves some
	// gaps in it, but nothing else plays on that device.
	if lvl := audio.Level(pcm); lvl < -20 {
		t.Fatalf("the other output recorded %.1f dBFS: not the caller's tone (-13.5 dBFS)", lvl)
	}
}
