package native

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gen2brain/malgo"

	"github.com/tandem-softphone/tandem/audio"
)

func nullBackend(t *testing.T) *Backend {
	t.Helper()
	b, err := NewNull(nil)
	if err != nil {
		t.Fatalf("null backend: %v", err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return b
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// The null backend runs capture and playback in real time, without a
// sound card.
func TestNullBackendRunsInRealTime(t *testing.T) {
	b := nullBackend(t)
	var captured, played atomic.Int64
	cfg := audio.Config{SampleRate: 8000}
	in, err := b.OpenCapture("", cfg, func(pcm []int16) { captured.Add(int64(len(pcm))) })
	if err != nil {
		t.Fatal(err)
	}
	out, err := b.OpenPlayback("", cfg, func(pcm []int16) {
		clear(pcm)
		played.Add(int64(len(pcm)))
	})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	waitFor(t, "half a second of audio", func() bool { return captured.Load() >= 4000 && played.Load() >= 4000 })
	elapsed := time.Since(start)
	in.Close()
	out.Close()
	// Real time, not as fast as it can: half a second of audio takes
	// about that long.
	if elapsed < 300*time.Millisecond {
		t.Errorf("0.5 s of audio in %v", elapsed)
	}
	n := captured.Load()
	time.Sleep(100 * time.Millisecond)
	if captured.Load() != n {
		t.Error("callbacks after Close")
	}
}

// Listing devices must not crash on a machine without a sound card,
// whichever backends miniaudio finds (or none).
func TestListDevicesWithoutSoundCard(t *testing.T) {
	b, err := New(Options{})
	if err != nil {
		t.Logf("no sound system: %v", err)
		return
	}
	defer b.Close()
	for _, kind := range []audio.Kind{audio.Capture, audio.Playback} {
		devs, err := b.Devices(kind)
		t.Logf("%v devices: %v, %v", kind, devs, err)
		for _, d := range devs {
			if d.Kind != kind || d.ID == "" {
				t.Errorf("device %+v", d)
			}
		}
	}
	if _, err := b.Devices(audio.Kind(9)); err == nil {
		t.Error("listed devices of an unknown kind")
	}
}

func TestNullDevicesByName(t *testing.T) {
	b := nullBackend(t)
	devs, err := b.Devices(audio.Playback)
	if err != nil || len(devs) == 0 {
		t.Fatalf("null playback devices: %v, %v", devs, err)
	}
	var fellBack []string
	cfg := audio.Config{SampleRate: 16000, OnFallback: func(d string) { fellBack = append(fellBack, d) }}
	d, err := b.OpenPlayback(devs[0].Name, cfg, func(pcm []int16) { clear(pcm) })
	if err != nil {
		t.Fatal(err)
	}
	if d.Name() != devs[0].Name || len(fellBack) != 0 {
		t.Errorf("opened %q (fallbacks %v): want %q", d.Name(), fellBack, devs[0].Name)
	}
	d.Close()
	// A device that is not there: the default instead, and a notice.
	d, err = b.OpenPlayback("USB headset", cfg, func(pcm []int16) { clear(pcm) })
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if len(fellBack) != 1 {
		t.Errorf("fallbacks %v: want one", fellBack)
	}
}

// A device that goes away mid-stream (here: stopped behind our back, as
// miniaudio stops an unplugged one) is replaced by the default device and
// the audio goes on.
func TestLostDeviceFallsBackToDefault(t *testing.T) {
	b := nullBackend(t)
	devs, err := b.Devices(audio.Capture)
	if err != nil || len(devs) == 0 {
		t.Fatalf("null capture devices: %v, %v", devs, err)
	}
	var mu sync.Mutex
	var fellBack []string
	var frames atomic.Int64
	cfg := audio.Config{SampleRate: 8000, OnFallback: func(d string) {
		mu.Lock()
		defer mu.Unlock()
		fellBack = append(fellBack, d)
	}}
	dev, err := b.OpenCapture(devs[0].ID, cfg, func(pcm []int16) { frames.Add(1) })
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	waitFor(t, "frames", func() bool { return frames.Load() > 3 })

	nd := dev.(*nativeDevice)
	nd.mu.Lock()
	inner := nd.cur.dev
	nd.mu.Unlock()
	if err := inner.Stop(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the fallback", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(fellBack) == 1
	})
	n := frames.Load()
	waitFor(t, "frames from the default device", func() bool { return frames.Load() > n+3 })
}

// A device whose callbacks stop coming without notice (a hung driver,
// here a callback that blocks for a while) is replaced as well.
func TestHungDeviceFallsBack(t *testing.T) {
	b, err := New(Options{Backends: []malgo.Backend{BackendNull}, Watchdog: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var fell atomic.Int32
	var frames atomic.Int64
	var hang atomic.Bool
	cfg := audio.Config{SampleRate: 8000, OnFallback: func(string) { fell.Add(1) }}
	dev, err := b.OpenCapture("", cfg, func([]int16) {
		frames.Add(1)
		if hang.CompareAndSwap(true, false) {
			time.Sleep(600 * time.Millisecond)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	waitFor(t, "frames", func() bool { return frames.Load() > 3 })
	hang.Store(true)
	waitFor(t, "the fallback", func() bool { return fell.Load() == 1 })
	n := frames.Load()
	waitFor(t, "frames after it", func() bool { return frames.Load() > n+3 })
}

func TestOpenRejectsBadConfig(t *testing.T) {
	b := nullBackend(t)
	if _, err := b.OpenCapture("", audio.Config{SampleRate: 100}, func([]int16) {}); err == nil {
		t.Error("opened at 100 Hz")
	}
}
