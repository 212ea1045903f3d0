package audio

import (
	"math"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tandem-softphone/tandem/media/tone"
	"github.com/tandem-softphone/tandem/media/wav"
)

func signal(t *testing.T, rate int, d time.Duration) []int16 {
	t.Helper()
	pcm, err := tone.Generate(rate, tone.Spec{Freqs: []float64{350, 910}, Level: 0.5}, d)
	if err != nil {
		t.Fatal(err)
	}
	// A rising level makes every stretch of the signal unique.
	for i := range pcm {
		pcm[i] = int16(float64(pcm[i]) * (0.2 + 0.8*float64(i)/float64(len(pcm))))
	}
	return pcm
}

func rms(pcm []int16) float64 {
	if len(pcm) == 0 {
		return 0
	}
	var e float64
	for _, s := range pcm {
		e += float64(s) * float64(s)
	}
	return math.Sqrt(e / float64(len(pcm)))
}

// pipe carries audio from a capture callback to a playback callback, with
// a lead against the two devices' scheduling.
type pipe struct {
	mu      sync.Mutex
	buf     []int16
	playing bool
}

func (p *pipe) write(pcm []int16) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.buf = append(p.buf, pcm...)
}

func (p *pipe) read(pcm []int16) {
	p.mu.Lock()
	defer p.mu.Unlock()
	// 1600 samples (200 ms at 8 kHz): a loaded machine runs the two
	// devices' periods late by tens of milliseconds, and a gap would be a
	// false failure.
	if !p.playing && len(p.buf) < 1600 {
		clear(pcm)
		return
	}
	p.playing = true
	n := copy(pcm, p.buf)
	clear(pcm[n:])
	p.buf = p.buf[n:]
}

// The WAV backend's microphone plays the file, and the speaker records
// what it is given: what goes in comes out, in real time.
func TestWAVRoundTrip(t *testing.T) {
	dir := t.TempDir()
	mic, speaker := filepath.Join(dir, "mic.wav"), filepath.Join(dir, "speaker.wav")
	src := signal(t, 8000, 400*time.Millisecond)
	if err := wav.WriteFile(mic, 8000, src); err != nil {
		t.Fatal(err)
	}
	b := NewWAV(WAVOptions{Mic: mic, Speaker: speaker})
	defer b.Close()
	var p pipe
	cfg := Config{SampleRate: 8000}
	start := time.Now()
	in, err := b.OpenCapture("", cfg, p.write)
	if err != nil {
		t.Fatal(err)
	}
	out, err := b.OpenPlayback("", cfg, p.read)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(900 * time.Millisecond)
	if err := in.Close(); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)

	rate, got, err := wav.ReadFile(speaker)
	if err != nil {
		t.Fatal(err)
	}
	if rate != 8000 {
		t.Errorf("recorded at %d Hz", rate)
	}
	// Real time: the recording lasts as long as the device ran.
	if d := time.Duration(len(got)) * time.Second / 8000; d < 500*time.Millisecond || d > elapsed {
		t.Errorf("recorded %v in %v", d, elapsed)
	}
	// The file's audio arrives whole and in order (after the playback
	// side's first silent periods), then silence.
	i := slices.IndexFunc(got, func(s int16) bool { return s != 0 }) - 1 // the source starts at 0
	if i < 0 || i+len(src) > len(got) {
		t.Fatalf("recording of %d samples holds no whole copy of the source after %d", len(got), i)
	}
	if !slices.Equal(got[i:i+len(src)], src) {
		t.Fatalf("the recording at %d differs from the source", i)
	}
	if r := rms(got[i+len(src):]); r != 0 {
		t.Errorf("not silent after the file ended: rms %.0f", r)
	}
}

func TestWAVMicLoopsAndResamples(t *testing.T) {
	mic := filepath.Join(t.TempDir(), "mic.wav")
	if err := wav.WriteFile(mic, 8000, signal(t, 8000, 50*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	b := NewWAV(WAVOptions{Mic: mic, Loop: true})
	var p pipe
	d, err := b.OpenCapture(WAVMic, Config{SampleRate: 16000, Period: 10 * time.Millisecond}, p.write)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	d.Close()
	p.mu.Lock()
	got := p.buf
	p.mu.Unlock()
	if len(got)%160 != 0 || len(got) < 16000*2/10 {
		t.Fatalf("%d samples in 300 ms at 16 kHz in 10 ms periods", len(got))
	}
	// Looping: the last period is as loud as a period of the file.
	if r := rms(got[len(got)-160:]); r < 1000 {
		t.Errorf("silence although the microphone loops: rms %.0f", r)
	}
}

func TestWAVDevices(t *testing.T) {
	dir := t.TempDir()
	b := NewWAV(WAVOptions{Speaker: filepath.Join(dir, "s.wav"), Ring: filepath.Join(dir, "r.wav")})
	devs, err := b.Devices(Playback)
	if err != nil || len(devs) != 2 {
		t.Fatalf("playback devices %v, %v", devs, err)
	}
	if d, ok := Find(devs, "WAV ring device"); !ok || d.ID != WAVRing {
		t.Errorf("Find by name: %v %v", d, ok)
	}
	if _, ok := Find(devs, "nope"); ok {
		t.Error("Find found a missing device")
	}
	var fellBack []string
	cfg := Config{SampleRate: 8000, OnFallback: func(d string) { fellBack = append(fellBack, d) }}
	silence := func(pcm []int16) { clear(pcm) }
	d, err := b.OpenPlayback("headset", cfg, silence)
	if err != nil {
		t.Fatal(err)
	}
	if len(fellBack) != 1 || fellBack[0] != "WAV speaker" {
		t.Errorf("fallbacks %v", fellBack)
	}
	if _, err := b.OpenPlayback(WAVSpeaker, cfg, silence); err == nil {
		t.Error("the speaker opened twice")
	}
	ring, err := b.OpenPlayback(WAVRing, cfg, silence)
	if err != nil {
		t.Fatalf("ring device beside the speaker: %v", err)
	}
	d.Close()
	ring.Close()
	if _, err := b.OpenCapture("", Config{SampleRate: 8000}, func([]int16) {}); err != nil {
		t.Errorf("capture without a microphone file: %v", err)
	}
	if _, err := NewWAV(WAVOptions{Mic: filepath.Join(dir, "missing.wav")}).OpenCapture("", cfg, func([]int16) {}); err == nil {
		t.Error("opened a missing microphone file")
	}
	b.Close()
	if _, err := b.OpenPlayback("", cfg, silence); err == nil {
		t.Error("opened a device on a closed backend")
	}
}

func TestConfigCheck(t *testing.T) {
	for _, c := range []Config{{}, {SampleRate: 4000}, {SampleRate: 8000, Period: time.Hour}, {SampleRate: 8000, Period: -1}} {
		if err := c.Check(); err == nil {
			t.Errorf("%+v passed", c)
		}
	}
	c := Config{SampleRate: 48000}
	if err := c.Check(); err != nil || c.Period != DefaultPeriod || c.Samples() != 960 {
		t.Errorf("defaults: %+v %v", c, err)
	}
}

func TestRingtoneCadence(t *testing.T) {
	ringFile := filepath.Join(t.TempDir(), "ring.wav")
	b := NewWAV(WAVOptions{Ring: ringFile})
	spec := tone.Spec{Freqs: []float64{440}, Level: 0.5, On: 100 * time.Millisecond, Off: 100 * time.Millisecond}
	d, err := PlayRingtone(b, WAVRing, Config{SampleRate: 8000, Period: 10 * time.Millisecond}, Ringtone{Tone: spec})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(450 * time.Millisecond)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	_, got, err := wav.ReadFile(ringFile)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) < 3200 {
		t.Fatalf("%d samples", len(got))
	}
	// 100 ms on, 100 ms off: 800 samples each.
	for k, wantLoud := range []bool{true, false, true, false} {
		r := rms(got[k*800+100 : k*800+700])
		if loud := r > 1000; loud != wantLoud {
			t.Errorf("stretch %d: rms %.0f, want loud %v", k, r, wantLoud)
		}
	}
}

func TestRingtoneWAVAndDefault(t *testing.T) {
	dir := t.TempDir()
	file, ringFile := filepath.Join(dir, "tune.wav"), filepath.Join(dir, "ring.wav")
	tune := signal(t, 16000, 30*time.Millisecond) // at another rate than the device
	if err := wav.WriteFile(file, 16000, tune); err != nil {
		t.Fatal(err)
	}
	b := NewWAV(WAVOptions{Ring: ringFile})
	d, err := PlayRingtone(b, WAVRing, Config{SampleRate: 8000}, Ringtone{WAV: file})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	d.Close()
	_, got, err := wav.ReadFile(ringFile)
	if err != nil {
		t.Fatal(err)
	}
	// The 30 ms tune (240 samples at 8 kHz) repeats.
	if len(got) < 960 || got[10] != got[250] || got[100] != got[340] || rms(got) < 500 {
		t.Errorf("the tune does not loop: %d samples, %d/%d", len(got), got[10], got[250])
	}

	if _, err := PlayRingtone(b, WAVRing, Config{SampleRate: 8000}, Ringtone{WAV: filepath.Join(dir, "missing.wav")}); err == nil {
		t.Error("rang a missing file")
	}
	d, err = PlayRingtone(b, WAVRing, Config{SampleRate: 8000}, Ringtone{})
	if err != nil {
		t.Fatalf("default ringtone: %v", err)
	}
	time.Sleep(100 * time.Millisecond)
	d.Close()
	if _, got, _ = wav.ReadFile(ringFile); rms(got) < 1000 {
		t.Errorf("the default ringtone is silent")
	}
}

func TestResample(t *testing.T) {
	in := signal(t, 8000, 100*time.Millisecond)
	up := Resample(in, 8000, 48000)
	if len(up) != 6*len(in) || up[600] != in[100] {
		t.Errorf("up: %d samples, %d vs %d", len(up), up[600], in[100])
	}
	down := Resample(up, 48000, 8000)
	if len(down) != len(in) || down[100] != in[100] {
		t.Errorf("down: %d samples", len(down))
	}
	odd := Resample(in, 8000, 44100)
	if want := len(in) * 44100 / 8000; len(odd) != want {
		t.Errorf("44.1 kHz: %d samples, want %d", len(odd), want)
	}
	if Resample(nil, 8000, 16000) != nil {
		t.Error("empty input")
	}
}
