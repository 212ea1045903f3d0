package sipua

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tandem-softphone/tandem/audio"
	"github.com/tandem-softphone/tandem/media/wav"
)

// wavFiles are the files of a phone's WAV backend.
type wavFiles struct{ mic, speaker, ring string }

// newWAVPhone is a phone whose WAV backend loops said as the microphone
// and records both playback devices, the speaker and the ring device.
func newWAVPhone(t testing.TB, s *site, user string, said []int16) (*phone, wavFiles) {
	t.Helper()
	dir := t.TempDir()
	f := wavFiles{filepath.Join(dir, "mic.wav"), filepath.Join(dir, "speaker.wav"), filepath.Join(dir, "ring.wav")}
	if err := wav.WriteFile(f.mic, callSampleRate, said); err != nil {
		t.Fatal(err)
	}
	p := newPhone(t, s, user, phoneOptions{edit: func(o *Options) {
		o.Audio = audio.NewWAV(audio.WAVOptions{Mic: f.mic, Loop: true, Speaker: f.speaker, Ring: f.ring, Logger: testLogger()})
	}})
	p.said = said
	return p, f
}

// fileSize is the size of a file; 0 when it does not exist yet.
func fileSize(t testing.TB, name string) int64 {
	t.Helper()
	fi, err := os.Stat(name)
	if os.IsNotExist(err) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// recordedSeconds is how much audio a WAV device recorded so far, by its
// file's size (the header is filled in only at the end).
func recordedSeconds(t testing.TB, name string) float64 {
	return float64(max(fileSize(t, name)-44, 0)) / (2 * callSampleRate)
}

// readRecording waits for a WAV device's file to be complete (its device
// closed) and returns its samples.
func readRecording(t testing.TB, name string) []int16 {
	t.Helper()
	var pcm []int16
	eventually(t, name+" complete", func() bool {
		_, p, err := wav.ReadFile(name)
		pcm = p
		return err == nil && len(p) > 0
	})
	return pcm
}

// A call in progress moves to other devices at once: the playback goes
// from the speaker to the ring device, which records the peer from then
// on while the speaker's recording stops; the capture device is reopened
// too, and the peer receives the same RTP stream throughout, without a
// gap in its sequence numbers.
func TestSetAudioDevicesMidCall(t *testing.T) {
	s := startSite(t, "site1.test", nil)
	a, _ := newWAVPhone(t, s, "1001", chirp(300, 3000, time.Second))
	b, bf := newWAVPhone(t, s, "2001", chirp(3000, 300, time.Second))
	ab, ba := connect(t, a, b)
	eventually(t, "the speaker records the call", func() bool { return recordedSeconds(t, bf.speaker) > 0.3 })
	sentBefore, recvBefore := ba.Info().Media.Stats, ab.Info().Media.Stats

	// "" to "mic": another name, so the capture device is reopened too.
	if err := b.ep.SetAudioDevices(audio.WAVMic, audio.WAVRing); err != nil {
		t.Fatal(err)
	}
	// The speaker's device is closed: its recording is complete.
	spoke := fileSize(t, bf.speaker)
	if pcm := readRecording(t, bf.speaker); len(pcm) != int(spoke-44)/2 {
		t.Fatalf("speaker recording: %d samples in a file of %d bytes", len(pcm), spoke)
	}
	eventually(t, "the ring device records the call", func() bool { return recordedSeconds(t, bf.ring) > 1.5 })
	if n := fileSize(t, bf.speaker); n != spoke {
		t.Errorf("the speaker's recording went on after the switch: %d bytes, then %d", spoke, n)
	}

	// One stream throughout: the same source, its sequence numbers
	// without a gap at the peer, and at least 1.5 s more of it.
	sent, recv := ba.Info().Media.Stats, ab.Info().Media.Stats
	if sent.SSRC != sentBefore.SSRC || recv.RemoteSSRC != sentBefore.SSRC {
		t.Errorf("SSRC %08x sent and %08x received after the switch, want %08x", sent.SSRC, recv.RemoteSSRC, sentBefore.SSRC)
	}
	if recv.Lost > 2 {
		t.Errorf("the peer lost %d packets (expected %d, received %d)", recv.Lost, recv.Expected, recv.PacketsReceived)
	}
	if recv.Expected < recvBefore.Expected+50 || recv.PacketsReceived < recvBefore.PacketsReceived+50 {
		t.Errorf("the peer received %d more packets (%d more expected) during 1.5 s after the switch", recv.PacketsReceived-recvBefore.PacketsReceived, recv.Expected-recvBefore.Expected)
	}
	if got := b.ep.talkerNames(); got != [2]string{"WAV microphone", "WAV " + audio.WAVRing} {
		t.Errorf("devices in use %q", got)
	}
	// The same choice again leaves the devices open: reopened, the ring
	// device would start its file anew.
	recorded := fileSize(t, bf.ring)
	if err := b.ep.SetAudioDevices(audio.WAVMic, audio.WAVRing); err != nil {
		t.Fatal(err)
	}
	if n := fileSize(t, bf.ring); n < recorded {
		t.Errorf("the ring device was reopened by the same choice: %d bytes, then %d", recorded, n)
	}

	if err := ba.Hangup(); err != nil {
		t.Fatal(err)
	}
	waitEnded(t, ab, EndRemoteHangup)
	if r := correlation(a.said, readRecording(t, bf.ring)); r < 0.8 {
		t.Errorf("the ring device heard the peer with correlation %.2f", r)
	}
}

// talkerNames are the names of the capture and playback devices in use,
// "none" for one not open.
func (e *Endpoint) talkerNames() [2]string {
	e.audioMu.Lock()
	defer e.audioMu.Unlock()
	return [2]string{deviceName(e.audio.capture), deviceName(e.audio.playback)}
}

// A device that cannot be opened gives way to the default; when not even
// the default opens, SetAudioDevices says so and the call goes on without
// that device. Calls from then on open the devices chosen.
func TestSetAudioDevicesFallback(t *testing.T) {
	s := startSite(t, "site1.test", nil)
	a, _ := newWAVPhone(t, s, "1001", chirp(300, 3000, time.Second))
	b, bf := newWAVPhone(t, s, "2001", chirp(3000, 300, time.Second))

	// Without a call the choice is recorded for the next one.
	if err := b.ep.SetAudioDevices("", audio.WAVRing); err != nil {
		t.Fatal(err)
	}
	ab, ba := connect(t, a, b)
	if got := b.ep.talkerNames(); got[1] != "WAV "+audio.WAVRing {
		t.Fatalf("a new call plays on %q, want the ring device", got[1])
	}
	eventually(t, "the ring device records the call", func() bool { return recordedSeconds(t, bf.ring) > 0.2 })

	// Back to the speaker, then to the ring device while another holds it
	// (the WAV backend opens a device once): the default, the speaker,
	// takes over.
	if err := b.ep.SetAudioDevices("", audio.WAVSpeaker); err != nil {
		t.Fatal(err)
	}
	cfg := audio.Config{SampleRate: callSampleRate}
	busy, err := b.ep.opts.Audio.OpenPlayback(audio.WAVRing, cfg, func(pcm []int16) { clear(pcm) })
	if err != nil {
		t.Fatal(err)
	}
	if err := b.ep.SetAudioDevices("", audio.WAVRing); err != nil {
		t.Fatalf("a busy device with a free default: %v", err)
	}
	if got := b.ep.talkerNames(); got[1] != "WAV "+audio.WAVSpeaker {
		t.Errorf("the busy ring device gave way to %q, want the default speaker", got[1])
	}
	eventually(t, "the speaker records the call", func() bool { return recordedSeconds(t, bf.speaker) > 0.2 })
	if err := busy.Close(); err != nil {
		t.Fatal(err)
	}

	// Nothing opens once the backend is closed: an error, and the call
	// goes on.
	if err := b.ep.opts.Audio.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.ep.SetAudioDevices("", audio.WAVRing); err == nil {
		t.Error("no error when no device opens")
	}
	if got := b.ep.talkerNames(); got[1] != "none" {
		t.Errorf("playing on %q with a closed backend", got[1])
	}
	before := packetsIn(ab)
	eventually(t, "media goes on", func() bool { return packetsIn(ab) > before+10 })
	if err := ba.Hangup(); err != nil {
		t.Fatal(err)
	}
	waitEnded(t, ab, EndRemoteHangup)
}
