package rtpstream

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/tandem-softphone/tandem/audio"
	"github.com/tandem-softphone/tandem/media/wav"
)

// The glue of a call: A's microphone is a WAV file feeding A.Write, B's
// speaker records B.Read to a WAV file; what B's speaker recorded is what
// A's microphone played.
func TestWAVDevicesThroughStreams(t *testing.T) {
	dir := t.TempDir()
	mic, speaker := filepath.Join(dir, "mic.wav"), filepath.Join(dir, "speaker.wav")
	src := testSignal(t, 16000, 1500*time.Millisecond)
	if err := wav.WriteFile(mic, 16000, src); err != nil {
		t.Fatal(err)
	}
	cfg := fastConfig(nil)
	cfg.SampleRate = 16000
	a, b, _, _ := pair(t, cfg, cfg, nil)

	devA := audio.NewWAV(audio.WAVOptions{Mic: mic})
	devB := audio.NewWAV(audio.WAVOptions{Speaker: speaker})
	dcfg := audio.Config{SampleRate: 16000}
	in, err := devA.OpenCapture("", dcfg, a.Write)
	if err != nil {
		t.Fatal(err)
	}
	out, err := devB.OpenPlayback("", dcfg, b.Read)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(1800 * time.Millisecond)
	in.Close()
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	rate, heard, err := wav.ReadFile(speaker)
	if err != nil || rate != 16000 {
		t.Fatalf("recording: %d Hz, %v", rate, err)
	}
	heardWell(t, "microphone to speaker", 16000, src, heard)
}
