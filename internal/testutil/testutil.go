// Package testutil holds the helpers that the tests of several packages
// share. Only test code imports it. It imports nothing of this module, so
// that every package's own tests (link's included) can use it.
package testutil

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"log/slog"
	"math/big"
	"sync"
	"testing"
	"time"
)

// Wait bounds every wait for something that should happen soon: generous for
// a loaded machine under -race, short enough that a failure does not stall
// the run.
const Wait = 5 * time.Second

// Quiet returns a logger that drops everything.
func Quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

// Context returns a context for a test's requests: it ends after 10 s, or
// when the test does.
func Context(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// Eventually polls cond until it holds, and fails the test if it does not
// within Wait.
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(Wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, Wait)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// SyncBuffer is a bytes.Buffer that one goroutine may write (a logger, a
// running command) while the test reads it.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns everything written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// SelfSigned makes a certificate for dnsName, valid for an hour, that is its
// own authority, and the pool that trusts it.
func SelfSigned(t testing.TB, dnsName string) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: dnsName},
		DNSNames:              []string{dnsName},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

// Recorder keeps, in order, the values that a callback hands it (statuses,
// events), for the test to wait for and count. Add never blocks, so it can
// be the callback of code that must not block.
type Recorder[T any] struct {
	mu     sync.Mutex
	all    []T
	read   int           // values before this index were returned by Next or Await
	signal chan struct{} // has a token when values were added
}

// NewRecorder returns an empty Recorder.
func NewRecorder[T any]() *Recorder[T] {
	return &Recorder[T]{signal: make(chan struct{}, 1)}
}

// Add records v.
func (r *Recorder[T]) Add(v T) {
	r.mu.Lock()
	r.all = append(r.all, v)
	r.mu.Unlock()
	select {
	case r.signal <- struct{}{}:
	default:
	}
}

// All returns every value recorded, read or not.
func (r *Recorder[T]) All() []T {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]T(nil), r.all...)
}

// Count returns how many of the values recorded match.
func (r *Recorder[T]) Count(match func(T) bool) int {
	n := 0
	for _, v := range r.All() {
		if match(v) {
			n++
		}
	}
	return n
}

// WantNext reads the next value (see Next), which must be want.
func WantNext[T comparable](t testing.TB, r *Recorder[T], want T) {
	t.Helper()
	if got := r.Next(t); got != want {
		t.Fatalf("got %v, want %v", got, want)
	}
}

// Next waits up to Wait for the next value not yet read, and reads it.
func (r *Recorder[T]) Next(t testing.TB) T {
	t.Helper()
	return r.Await(t, "a value", func(T) bool { return true })
}

// Await waits up to Wait for the next value not yet read that matches, and
// reads the values up to it.
func (r *Recorder[T]) Await(t testing.TB, what string, match func(T) bool) T {
	t.Helper()
	deadline := time.After(Wait)
	for {
		r.mu.Lock()
		for r.read < len(r.all) {
			v := r.all[r.read]
			r.read++
			if match(v) {
				r.mu.Unlock()
				return v
			}
		}
		r.mu.Unlock()
		select {
		case <-r.signal:
		case <-deadline:
			t.Fatalf("no %s within %v", what, Wait)
		}
	}
}
