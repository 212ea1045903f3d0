package sipua

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log/slog"
	"math/big"
	"net"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tandem-softphone/tandem/sitesim/registrar"
)

func TestMain(m *testing.M) {
	// sipgo logs through the default logger too; keep test output readable
	// unless asked for.
	if os.Getenv("SIPUA_TEST_LOG") == "" {
		slog.SetDefault(slog.New(slog.DiscardHandler))
	}
	os.Exit(m.Run())
}

func testLogger() *slog.Logger {
	if os.Getenv("SIPUA_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

var testPasswords = map[string]string{"1001": "pw-1001", "2001": "pw-2001", "3001": "pw-3001"}

// site is a sitesim registrar on loopback and the changes it reports.
type site struct {
	*registrar.Registrar
	realm   string
	changes chan registrar.Change
	pending []registrar.Change // received by waitChange, not yet waited for
}

// startSite starts a sitesim registrar on loopback ephemeral ports that
// accepts expiries down to one second. It is closed at cleanup.
func startSite(t testing.TB, realm string, edit func(*registrar.Options)) *site {
	t.Helper()
	s := &site{realm: realm, changes: make(chan registrar.Change, 100)}
	opts := registrar.Options{
		Realm: realm,
		Password: func(user string) (string, bool) {
			pw, ok := testPasswords[user]
			return pw, ok
		},
		UDPAddr:    "127.0.0.1:0",
		TCPAddr:    "127.0.0.1:0",
		Logger:     testLogger().With("registrar", realm),
		MinExpires: time.Second,
		OnChange:   func(c registrar.Change) { s.changes <- c },
	}
	if edit != nil {
		edit(&opts)
	}
	r, err := registrar.New(opts)
	if err != nil {
		t.Fatalf("registrar.New: %v", err)
	}
	if err := r.Start(context.Background()); err != nil {
		t.Fatalf("registrar Start: %v", err)
	}
	t.Cleanup(func() { r.Close() })
	s.Registrar = r
	return s
}

// account returns an account of DN user at s over transport.
func (s *site) account(name, transport, user string) Account {
	addr := s.UDPAddr().String()
	if transport != TransportUDP {
		addr = s.TCPAddr().String()
	}
	return Account{
		Site:      name,
		Registrar: addr,
		Transport: transport,
		Domain:    s.realm,
		User:      user,
		Password:  testPasswords[user],
		Expires:   60 * time.Second,
	}
}

// waitChange waits up to 5 s for s to report dn becoming registered or not.
// Changes of other DNs that arrive meanwhile are kept for later calls.
func (s *site) waitChange(t testing.TB, dn string, registered bool, reason string) registrar.Change {
	t.Helper()
	match := func(c registrar.Change) bool {
		return c.DN == dn && c.Registered == registered && c.Reason == reason
	}
	for i, c := range s.pending {
		if match(c) {
			s.pending = slices.Delete(s.pending, i, i+1)
			return c
		}
	}
	deadline := time.After(5 * time.Second)
	for {
		select {
		case c := <-s.changes:
			if match(c) {
				return c
			}
			if c.DN != dn {
				s.pending = append(s.pending, c)
			}
		case <-deadline:
			t.Fatalf("%s: no change %s registered=%v (%s) within 5 s", s.realm, dn, registered, reason)
		}
	}
}

// fastOptions are short timings for tests on loopback.
func fastOptions(accts ...Account) Options {
	return Options{
		Accounts:       accts,
		Logger:         testLogger(),
		ProbeInterval:  200 * time.Millisecond,
		ProbeTimeout:   300 * time.Millisecond,
		RequestTimeout: 700 * time.Millisecond,
		MinBackoff:     100 * time.Millisecond,
		MaxBackoff:     400 * time.Millisecond,
		WatchInterval:  time.Hour,
		CloseTimeout:   time.Second,
	}
}

// recorder collects an endpoint's events.
type recorder struct {
	mu     sync.Mutex
	events []RegistrationEvent
}

func (r *recorder) record(ev Event) {
	if re, ok := ev.(RegistrationEvent); ok {
		r.mu.Lock()
		r.events = append(r.events, re)
		r.mu.Unlock()
	}
}

// states returns the states reported for site, in order.
func (r *recorder) states(site string) []RegistrationState {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []RegistrationState
	for _, ev := range r.events {
		if ev.Site == site {
			out = append(out, ev.State)
		}
	}
	return out
}

// waitStates waits until at least len(want) states have been reported for
// site, then checks them against want.
func (r *recorder) waitStates(t testing.TB, site string, want []RegistrationState, within time.Duration) {
	t.Helper()
	waitReported(t, site, func() []RegistrationState { return r.states(site) }, want, within)
}

// waitReported waits until reported returns at least len(want) items, then
// checks them against want. Events reach OnEvent on a goroutine of their
// own, after the state they report is visible, so a test that has seen the
// state must still wait for its event.
func waitReported[T comparable](t testing.TB, what string, reported func() []T, want []T, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		got := reported()
		if len(got) >= len(want) || time.Now().After(deadline) {
			if !slices.Equal(got, want) {
				t.Errorf("%s: reported %v, want %v", what, got, want)
			}
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// startEndpoint starts an endpoint with opts; it is closed at cleanup.
func startEndpoint(t testing.TB, opts Options) (*Endpoint, *recorder) {
	t.Helper()
	rec := &recorder{}
	if opts.OnEvent == nil {
		opts.OnEvent = rec.record
	}
	e, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { e.Close() })
	return e, rec
}

// waitState polls until site's registration is in state, up to within.
func waitState(t testing.TB, e *Endpoint, site string, state RegistrationState, within time.Duration) Registration {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		reg, err := e.Registration(site)
		if err != nil {
			t.Fatal(err)
		}
		if reg.State == state {
			return reg
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: state %v (%d %q), want %v within %v", site, reg.State, reg.Code, reg.Reason, state, within)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// eventually polls cond for up to 5 s.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 5 s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// testCA is a certificate authority for TLS tests.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newTestCA(t testing.TB) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "sipua test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool}
}

// issue makes a server certificate for dnsName.
func (ca *testCA) issue(t testing.TB, dnsName string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: dnsName},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{dnsName},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// tlsFront terminates TLS with cert on a loopback port and relays the bytes
// to backend over TCP: a TLS registrar made of a TCP one. It returns the
// TLS address; everything stops at cleanup.
func tlsFront(t testing.TB, cert tls.Certificate, backend string) string {
	t.Helper()
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	var wg sync.WaitGroup
	track := func(c net.Conn) {
		mu.Lock()
		conns = append(conns, c)
		mu.Unlock()
	}
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			b, err := net.Dial("tcp", backend)
			if err != nil {
				c.Close()
				continue
			}
			track(c)
			track(b)
			wg.Go(func() { io.Copy(b, c); b.Close() })
			wg.Go(func() { io.Copy(c, b); c.Close() })
		}
	})
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range slices.Clone(conns) {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return l.Addr().String()
}
