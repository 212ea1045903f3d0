package sipua

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tandem-softphone/tandem/media/wav"
)

// baresip is a headless baresip for a test: its microphone plays a file,
// its speaker is ALSA's null device, and the sndfile module records what
// it receives (…-dec.wav) in rec.
type baresip struct {
	port int
	src  []int16 // what it says
	rec  string
}

// startBaresip runs baresip with one account, 3001, that answers calls
// by itself; extra are commands run at start (e.g. "/dial …").
func startBaresip(t *testing.T, extra ...string) *baresip {
	t.Helper()
	bin := peerBinary(t, "baresip", "baresip")
	dir := t.TempDir()
	b := &baresip{rec: filepath.Join(dir, "rec")}
	if err := os.Mkdir(b.rec, 0o755); err != nil {
		t.Fatal(err)
	}
	// The end of the source file would hang up: pad it with silence.
	b.src = append(chirp(3000, 300, time.Second), make([]int16, 30*callSampleRate)...)
	src := filepath.Join(dir, "src.wav")
	if err := wav.WriteFile(src, callSampleRate, b.src); err != nil {
		t.Fatal(err)
	}
	startListeningPeer(t, "baresip", bin, dir, func() ([]string, int) {
		b.port = freeUDPAndTCPPort(t)
		b.configure(t, dir, src)
		args := []string{"-f", dir, "-n", "127.0.0.1"}
		for _, cmd := range extra {
			args = append(args, "-e", cmd)
		}
		return args, b.port
	})
	return b
}

// configure writes baresip's config and accounts files into dir.
func (b *baresip) configure(t *testing.T, dir, src string) {
	t.Helper()
	config := fmt.Sprintf(`sip_listen 127.0.0.1:%d
audio_player alsa,null
audio_alert alsa,null
audio_source aufile,%s
module_path /usr/lib/baresip/modules
module g711.so
module aufile.so
module alsa.so
module sndfile.so
module account.so
module menu.so
snd_path %s
`, b.port, src, b.rec)
	account := fmt.Sprintf("<sip:3001@127.0.0.1:%d>;regint=0;answermode=auto\n", b.port)
	if err := os.WriteFile(filepath.Join(dir, "config"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "accounts"), []byte(account), 0o644); err != nil {
		t.Fatal(err)
	}
}

// received is what baresip recorded of the call's incoming audio, once
// the call is over and the recording closed.
func (b *baresip) received(t *testing.T) []int16 {
	t.Helper()
	var pcm []int16
	eventually(t, "baresip's recording", func() bool {
		files, _ := filepath.Glob(filepath.Join(b.rec, "*-dec.wav"))
		if len(files) != 1 {
			return false
		}
		rate, p, err := wav.ReadFile(files[0])
		if err != nil || rate != callSampleRate || len(p) == 0 {
			return false
		}
		pcm = p
		return true
	})
	return pcm
}

// baresip calls us and we call baresip; each time the audio that reaches
// baresip matches what we sent, and what we hear matches what it sent.
func TestBaresipCalls(t *testing.T) {
	peerBinary(t, "baresip", "baresip")
	t.Parallel()
	s := startSite(t, "site1.test", nil)
	a := newPhone(t, s, "1001", phoneOptions{said: chirp(300, 3000, time.Second)})
	talk := func(c *Call) {
		t.Helper()
		if i := waitCallState(t, c, CallConnected); !strings.HasPrefix(i.Media.Codec, "PCMU") {
			t.Errorf("codec with baresip: %s", i.Media.Codec)
		}
		time.Sleep(1600 * time.Millisecond)
		if err := c.Hangup(); err != nil {
			t.Fatal(err)
		}
		waitEnded(t, c, EndLocalHangup)
	}
	check := func(b *baresip) {
		t.Helper()
		if r := correlation(a.said, b.received(t)); r < 0.8 {
			t.Errorf("what baresip received: correlation %.2f with what we sent", r)
		}
		if r := correlation(b.src[:callSampleRate], a.heard()); r < 0.8 {
			t.Errorf("what we heard: correlation %.2f with what baresip sent", r)
		}
	}

	t.Run("baresip calls", func(t *testing.T) {
		b := startBaresip(t, "/dial "+a.uri())
		c := a.incoming()
		if i := c.Info(); !strings.Contains(i.PeerURI, "3001") {
			t.Errorf("caller %s", i.PeerURI)
		}
		if err := c.Answer(); err != nil {
			t.Fatal(err)
		}
		talk(c)
		check(b)
	})
	t.Run("we call baresip", func(t *testing.T) {
		b := startBaresip(t)
		c := a.dial(fmt.Sprintf("sip:3001@127.0.0.1:%d", b.port))
		talk(c)
		check(b)
	})
}
