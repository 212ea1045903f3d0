package rtpstream

import (
	"testing"
	"time"

	"github.com/tandem-softphone/tandem/media/sdp"
)

func srtpPair(t *testing.T, corrupt func(mb *sdp.Media)) (a, b *Stream) {
	t.Helper()
	a, b = openStream(t, fastConfig(nil)), openStream(t, fastConfig(nil))
	la, lb := localFor(a, sdp.PCMU), localFor(b, sdp.PCMU)
	la.SRTP = true
	ma, mb := negotiate(t, la, lb)
	if !ma.Secure || !mb.Secure {
		t.Fatal("SRTP not negotiated")
	}
	if corrupt != nil {
		corrupt(&mb)
	}
	if err := a.Start(ma); err != nil {
		t.Fatal(err)
	}
	if err := b.Start(mb); err != nil {
		t.Fatal(err)
	}
	return a, b
}

func TestSRTPRoundTrip(t *testing.T) {
	a, b := srtpPair(t, nil)
	exchange(t, a, b, 8000)
	eventually(t, "SRTCP reports", func() bool { return a.Stats().RTT > 0 && b.Stats().RTT > 0 })
	for name, st := range map[string]Stats{"A": a.Stats(), "B": b.Stats()} {
		if st.AuthFailures != 0 || st.PacketsReceived < 50 {
			t.Errorf("%s: %d authentication failures, %d packets", name, st.AuthFailures, st.PacketsReceived)
		}
	}
}

// A peer with the wrong key authenticates nothing and plays nothing.
func TestSRTPWrongKey(t *testing.T) {
	a, b := srtpPair(t, func(mb *sdp.Media) {
		key := append([]byte(nil), mb.RemoteCrypto.Key...)
		key[0] ^= 1
		mb.RemoteCrypto.Key = key
	})
	eventually(t, "authentication failures", func() bool { return b.Stats().AuthFailures > 10 })
	silence := make([]int16, 800)
	b.Read(silence)
	if st := b.Stats(); st.PacketsReceived != 0 || energy(silence) != 0 {
		t.Errorf("B accepted %d packets under the wrong key", st.PacketsReceived)
	}
	// The other direction is keyed correctly and works.
	eventually(t, "A receiving", func() bool { return a.Stats().PacketsReceived > 10 })
	if a.Stats().AuthFailures != 0 {
		t.Errorf("A: %d authentication failures", a.Stats().AuthFailures)
	}
}

// A re-INVITE that keeps the keys keeps the SRTP state; a new key from the
// peer takes effect.
func TestSRTPUpdateKeys(t *testing.T) {
	a, b := srtpPair(t, nil)
	eventually(t, "media", func() bool { return a.Stats().PacketsReceived > 10 })
	mb := b.Media()
	if err := b.Update(mb); err != nil {
		t.Fatal(err)
	}
	before := a.Stats().PacketsReceived
	eventually(t, "media after the update", func() bool { return a.Stats().PacketsReceived > before+10 })
	if a.Stats().AuthFailures != 0 || b.Stats().AuthFailures != 0 {
		t.Errorf("authentication failures after an update with the same keys")
	}

	key, err := sdp.NewCrypto(sdp.SuiteAES128SHA1_80)
	if err != nil {
		t.Fatal(err)
	}
	mb.LocalCrypto = key
	if err := b.Update(mb); err != nil {
		t.Fatal(err)
	}
	ma := a.Media()
	ma.RemoteCrypto = key
	if err := a.Update(ma); err != nil {
		t.Fatal(err)
	}
	time.Sleep(60 * time.Millisecond) // packets under the old key drain
	failures, received := a.Stats().AuthFailures, a.Stats().PacketsReceived
	eventually(t, "media under the new key", func() bool { return a.Stats().PacketsReceived > received+10 })
	if a.Stats().AuthFailures != failures {
		t.Errorf("authentication failures under the new key")
	}
}
