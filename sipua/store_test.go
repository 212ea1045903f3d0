package sipua

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// storeCall stores c and checks the size asked beforehand (BC-26).
func storeCall(t *testing.T, c *Call) []byte {
	t.Helper()
	size, err := c.StorageSize()
	if err != nil {
		t.Fatalf("StorageSize: %v", err)
	}
	buf, err := c.Store(make([]byte, 0, size))
	if err != nil {
		t.Fatalf("Store: %v", err)
	}
	if len(buf) != size {
		t.Fatalf("stored %d bytes, StorageSize said %d", len(buf), size)
	}
	waitEnded(t, c, EndStored)
	return buf
}

// BC-25, BC-26: a stored call restored into a fresh endpoint is connected
// and keeps working: the same RTP stream goes on, and hold, DTMF and
// hang-up work on the dialog.
func TestStoreRestoreCall(t *testing.T) {
	s := startSite(t, "site1.test", nil)
	a := newPhone(t, s, "1001", phoneOptions{said: chirp(300, 3000, 4*time.Second)})
	// The restoring endpoint listens where the stored one did: a port free
	// for UDP and TCP alike, so that the second bind cannot meet a stranger.
	port := freePort(t)
	b := newPhone(t, s, "2001", phoneOptions{
		said: chirp(3000, 300, 4*time.Second),
		edit: func(o *Options) { o.ListenPort = port },
	})
	ca, cb := connect(t, a, b)
	waitCall(t, ca, "audio arrives", func(i CallInfo) bool { return i.Media.Stats.PacketsReceived > 20 })
	before := cb.Info().Media.Stats

	buf := storeCall(t, cb)
	if _, err := cb.Store(nil); !errors.Is(err, ErrCallState) {
		t.Fatalf("Store of a stored call: %v, want ErrCallState", err)
	}
	if err := b.ep.Close(); err != nil {
		t.Fatal(err)
	}
	if st := ca.Info().State; st != CallConnected {
		t.Fatalf("the peer's call is %v after the store", st)
	}

	b2 := newPhone(t, s, "2001", phoneOptions{
		said: chirp(3000, 300, 4*time.Second),
		edit: func(o *Options) { o.ListenPort = port },
	})
	c2, err := b2.ep.RestoreCall(buf)
	if err != nil {
		t.Fatalf("RestoreCall: %v", err)
	}
	if _, err := b2.ep.RestoreCall(buf); !errors.Is(err, ErrCallExists) {
		t.Fatalf("second restore: %v, want ErrCallExists", err)
	}
	info := c2.Info()
	if info.State != CallConnected || info.ID != cb.ID() || info.PeerURI != cb.Info().PeerURI {
		t.Fatalf("restored call: %+v", info)
	}
	after := info.Media.Stats
	if after.SSRC != before.SSRC || after.PacketsSent < before.PacketsSent {
		t.Fatalf("stream did not continue: SSRC %08x→%08x, sent %d→%d", before.SSRC, after.SSRC, before.PacketsSent, after.PacketsSent)
	}
	got := packetsIn(ca)
	waitCall(t, ca, "audio from the restored call", func(i CallInfo) bool {
		return i.Media.Stats.PacketsReceived > got+20 && i.Media.Stats.RemoteSSRC == before.SSRC
	})
	waitCall(t, c2, "audio at the restored call", func(i CallInfo) bool { return i.Media.Stats.PacketsReceived > 20 })

	if err := c2.SendDTMF("7"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the peer hears the DTMF", func() bool { return strings.Contains(a.digits(), "7") })

	if err := c2.Hold(); err != nil {
		t.Fatalf("Hold: %v", err)
	}
	waitCall(t, ca, "held by the restored call", func(i CallInfo) bool { return i.RemoteHold })
	if err := c2.Resume(); err != nil {
		t.Fatalf("Resume: %v", err)
	}
	waitCall(t, ca, "resumed", func(i CallInfo) bool { return !i.RemoteHold && i.State == CallConnected })

	if err := c2.Hangup(); err != nil {
		t.Fatal(err)
	}
	waitEnded(t, c2, EndLocalHangup)
	waitEnded(t, ca, EndRemoteHangup)
}

// BC-25: only a connected call can be stored, and restore needs a started
// endpoint with the call's account.
func TestStoreRefusals(t *testing.T) {
	s := startSite(t, "site1.test", nil)
	a := newPhone(t, s, "1001", phoneOptions{})
	b := newPhone(t, s, "2001", phoneOptions{})
	ca := a.dial(b.uri())
	cb := b.incoming()
	if _, err := cb.StorageSize(); !errors.Is(err, ErrCallState) {
		t.Fatalf("StorageSize of a ringing call: %v", err)
	}
	if _, err := cb.Store(nil); !errors.Is(err, ErrCallState) {
		t.Fatalf("Store of a ringing call: %v", err)
	}
	if err := cb.Answer(); err != nil {
		t.Fatal(err)
	}
	waitCallState(t, ca, CallConnected)
	buf := storeCall(t, ca)

	// Site1 of this endpoint is DN 3001, not the call's 1001.
	other := newPhone(t, s, "3001", phoneOptions{})
	if _, err := other.ep.RestoreCall(buf); !errors.Is(err, ErrUnknownSite) {
		t.Fatalf("restore into another DN: %v, want ErrUnknownSite", err)
	}
	stopped, err := New(fastOptions(s.account("site1", TransportUDP, "1001")))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stopped.RestoreCall(buf); !errors.Is(err, ErrNotStarted) {
		t.Fatalf("restore into an endpoint not started: %v, want ErrNotStarted", err)
	}
}

// BC-30: the buffer holds SRTP keys, so its file is the owner's only.
func TestWriteBufferFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "call.buf")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteBufferFile(path, []byte("new buffer")); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if mode := fi.Mode().Perm(); mode != 0o600 {
		t.Fatalf("mode %o, want 600", mode)
	}
	if got, _ := os.ReadFile(path); string(got) != "new buffer" {
		t.Fatalf("content %q", got)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("temporary files left: %v", entries)
	}
	if err := WriteBufferFile(filepath.Join(dir, "missing", "call.buf"), nil); err == nil {
		t.Fatal("no error for a missing directory")
	}
}

// freePort finds a loopback port number that is free for both UDP and TCP.
func freePort(t *testing.T) int {
	t.Helper()
	for range 50 {
		tl, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := tl.Addr().(*net.TCPAddr).Port
		ul, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
		tl.Close()
		if err == nil {
			ul.Close()
			return port
		}
	}
	t.Fatal("no port free for both UDP and TCP")
	return 0
}
