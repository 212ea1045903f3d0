package audio

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/tandem-softphone/tandem/media/wav"
)

// Device IDs of the WAV backend.
const (
	WAVMic     = "mic"
	WAVSpeaker = "speaker"
	WAVRing    = "ring"
)

// WAVOptions names the files of a WAV backend.
type WAVOptions struct {
	Mic     string // played as the microphone; "" captures silence
	Loop    bool   // start Mic over when it ends, instead of silence
	Speaker string // records the speaker device; "" discards
	Ring    string // records the ring device; "" discards
	Logger  *slog.Logger
}

// WAV is a backend without sound hardware: the microphone plays a file
// and each playback device records to a file, all in real time, so that
// a call runs as it would with a sound card.
type WAV struct {
	opts WAVOptions
	log  *slog.Logger

	mu     sync.Mutex
	inUse  map[string]bool
	closed bool
}

// NewWAV returns a WAV backend.
func NewWAV(opts WAVOptions) *WAV {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	return &WAV{opts: opts, log: log, inUse: map[string]bool{}}
}

// Devices lists the microphone, or the speaker and the ring device.
func (w *WAV) Devices(kind Kind) ([]DeviceInfo, error) {
	switch kind {
	case Capture:
		return []DeviceInfo{{ID: WAVMic, Name: "WAV microphone", Kind: Capture, Default: true}}, nil
	case Playback:
		return []DeviceInfo{
			{ID: WAVSpeaker, Name: "WAV speaker", Kind: Playback, Default: true},
			{ID: WAVRing, Name: "WAV ring device", Kind: Playback},
		}, nil
	}
	return nil, fmt.Errorf("audio: %v", kind)
}

// resolve maps a device name to one of the backend's IDs, falling back to
// the default of the kind.
func (w *WAV) resolve(kind Kind, device string, cfg Config) string {
	devs, _ := w.Devices(kind)
	if device == "" {
		return devs[0].ID
	}
	if d, ok := Find(devs, device); ok {
		return d.ID
	}
	w.log.Warn("audio: no such WAV device, using the default", "device", device, "kind", kind)
	if cfg.OnFallback != nil {
		cfg.OnFallback(devs[0].Name)
	}
	return devs[0].ID
}

func (w *WAV) claim(id string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case w.closed:
		return errors.New("audio: WAV backend closed")
	case w.inUse[id]:
		return fmt.Errorf("audio: WAV device %q already open", id)
	}
	w.inUse[id] = true
	return nil
}

func (w *WAV) release(id string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.inUse, id)
}

// OpenCapture plays the Mic file, converted to cfg.SampleRate, one period
// at a time.
func (w *WAV) OpenCapture(device string, cfg Config, onFrame func(pcm []int16)) (Device, error) {
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	id := w.resolve(Capture, device, cfg)
	var src []int16
	if w.opts.Mic != "" {
		rate, pcm, err := wav.ReadFile(w.opts.Mic)
		if err != nil {
			return nil, fmt.Errorf("audio: WAV microphone: %w", err)
		}
		src = Resample(pcm, rate, cfg.SampleRate)
	}
	if err := w.claim(id); err != nil {
		return nil, err
	}
	frame := make([]int16, cfg.Samples())
	pos := 0
	d := startTicking("WAV microphone", cfg.Period, func() {
		clear(frame)
		for n := 0; n < len(frame) && len(src) > 0; {
			if pos == len(src) {
				if !w.opts.Loop {
					break
				}
				pos = 0
			}
			c := copy(frame[n:], src[pos:])
			n, pos = n+c, pos+c
		}
		onFrame(frame)
	}, func() error { w.release(id); return nil })
	return d, nil
}

// OpenPlayback records what fill plays to the device's file.
func (w *WAV) OpenPlayback(device string, cfg Config, fill func(pcm []int16)) (Device, error) {
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	id := w.resolve(Playback, device, cfg)
	path := w.opts.Speaker
	if id == WAVRing {
		path = w.opts.Ring
	}
	if err := w.claim(id); err != nil {
		return nil, err
	}
	var rec *wav.Writer
	if path != "" {
		var err error
		if rec, err = wav.Create(path, cfg.SampleRate); err != nil {
			w.release(id)
			return nil, fmt.Errorf("audio: WAV %s: %w", id, err)
		}
	}
	frame := make([]int16, cfg.Samples())
	var recErr error
	d := startTicking("WAV "+id, cfg.Period, func() {
		fill(frame)
		if rec != nil && recErr == nil {
			if recErr = rec.Write(frame); recErr != nil {
				w.log.Warn("audio: WAV recording stopped", "device", id, "err", recErr)
			}
		}
	}, func() error {
		defer w.release(id)
		if rec != nil {
			return rec.Close()
		}
		return nil
	})
	return d, nil
}

// Close releases the backend.
func (w *WAV) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	return nil
}

// ticking runs a device's period callback on the wall clock.
type ticking struct {
	name    string
	stop    chan struct{}
	done    chan struct{}
	once    sync.Once
	cleanup func() error
	err     error
}

// maxCatchUp bounds how many missed periods run at once after a stall
// (a suspended machine): beyond it the device skips ahead.
const maxCatchUp = 50

func startTicking(name string, period time.Duration, tick func(), cleanup func() error) *ticking {
	t := &ticking{name: name, stop: make(chan struct{}), done: make(chan struct{}), cleanup: cleanup}
	go func() {
		defer close(t.done)
		timer := time.NewTimer(period)
		defer timer.Stop()
		next := time.Now().Add(period)
		for {
			select {
			case <-t.stop:
				return
			case <-timer.C:
			}
			// Periods missed while the process did not run are made up,
			// so that a recording keeps the call's real length.
			for n := 0; !time.Now().Before(next); n++ {
				if n == maxCatchUp {
					next = time.Now()
				}
				tick()
				next = next.Add(period)
			}
			timer.Reset(time.Until(next))
		}
	}()
	return t
}

func (t *ticking) Name() string { return t.name }

func (t *ticking) Close() error {
	t.once.Do(func() {
		close(t.stop)
		<-t.done
		t.err = t.cleanup()
	})
	return t.err
}
