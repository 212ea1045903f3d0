package testutil

import (
	"crypto/tls"
	"net"
	"sync"
	"testing"
)

func TestRecorder(t *testing.T) {
	r := NewRecorder[int]()
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range 10 {
			r.Add(i)
		}
	})
	if got := r.Next(t); got != 0 {
		t.Fatalf("first value %d, want 0", got)
	}
	// Await skips what does not match, and what it skipped stays read.
	if got := r.Await(t, "5", func(v int) bool { return v == 5 }); got != 5 {
		t.Fatalf("awaited %d, want 5", got)
	}
	WantNext(t, r, 6)
	wg.Wait()
	if got := r.Count(func(v int) bool { return v%2 == 0 }); got != 5 {
		t.Fatalf("%d even values, want 5", got)
	}
	if all := r.All(); len(all) != 10 || all[9] != 9 {
		t.Fatalf("all %v", all)
	}
}

func TestSyncBufferConcurrentWrites(t *testing.T) {
	var b SyncBuffer
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() { b.Write([]byte("ab")) })
	}
	wg.Wait()
	if got := b.String(); got != "abababab" {
		t.Fatalf("buffer %q", got)
	}
}

// The certificate serves TLS for its name, and for no other.
func TestSelfSigned(t *testing.T) {
	cert, pool := SelfSigned(t, "svc.test")
	var wg sync.WaitGroup
	defer wg.Wait() // after the listener's Close below
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.(*tls.Conn).Handshake()
			c.Close()
		}
	})
	dial := func(name string) error {
		nc, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			return err
		}
		defer nc.Close()
		return tls.Client(nc, &tls.Config{RootCAs: pool, ServerName: name}).Handshake()
	}
	if err := dial("svc.test"); err != nil {
		t.Fatalf("handshake for the certificate's name: %v", err)
	}
	if err := dial("other.test"); err == nil {
		t.Fatal("handshake for another name succeeded")
	}
}

func TestEventually(t *testing.T) {
	n := 0
	Eventually(t, "third poll", func() bool { n++; return n == 3 })
	if n != 3 {
		t.Fatalf("polled %d times, want 3", n)
	}
}
