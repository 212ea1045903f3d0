package registrar

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/tandem-softphone/tandem/internal/testutil"
)

// BC-18: a new registration is what gives the DN EventDNBackInService.
func TestRegisterOverUDPAndTCP(t *testing.T) {
	for _, transport := range []string{"udp", "tcp"} {
		t.Run(transport, func(t *testing.T) {
			r, changes := testRegistrar(t, nil)
			c := newClient(t)
			req := newRegister(target(r, transport), "1001", "<sip:1001@127.0.0.1:5099>", 60)
			res := register(t, c, req, "1001", testUsers["1001"])
			if res.StatusCode != sip.StatusOK {
				t.Fatalf("status %d, want 200", res.StatusCode)
			}
			got := contactsOf(res)
			if len(got) != 1 || !strings.Contains(got[0], "sip:1001@127.0.0.1:5099") || !strings.Contains(got[0], "expires=60") {
				t.Fatalf("200 contacts = %q", got)
			}
			ch := waitChange(t, changes, "1001", true, ReasonRegistered)
			if ch.Contact != "sip:1001@127.0.0.1:5099" {
				t.Errorf("change contact = %q", ch.Contact)
			}
			b := r.Bindings()
			if len(b) != 1 || b[0].DN != "1001" || !strings.EqualFold(b[0].Transport, transport) ||
				!strings.HasPrefix(b[0].Source, "127.0.0.1:") || b[0].Expires <= 0 || b[0].Expires > 60*time.Second {
				t.Fatalf("bindings = %+v", b)
			}

			// A refresh keeps the DN registered: no change is reported.
			res = register(t, c, newRegister(target(r, transport), "1001", "<sip:1001@127.0.0.1:5099>", 60), "1001", testUsers["1001"])
			if res.StatusCode != sip.StatusOK {
				t.Fatalf("refresh status %d", res.StatusCode)
			}
			noChange(t, changes)
		})
	}
}

// The default offer puts SHA-256 first, which sipgo answers; a registrar
// offering only MD5 is answered with MD5.
func TestRegisterDigestAlgorithms(t *testing.T) {
	for _, alg := range []string{AlgorithmSHA256, AlgorithmMD5} {
		t.Run(alg, func(t *testing.T) {
			r, changes := testRegistrar(t, func(o *Options) {
				if alg == AlgorithmMD5 {
					o.Algorithms = []string{AlgorithmMD5}
				}
			})
			c := newClient(t)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			req := newRegister(target(r, "udp"), "1002", "<sip:1002@127.0.0.1:5098>", 60)
			res, err := c.Do(ctx, req)
			if err != nil || res.StatusCode != sip.StatusUnauthorized {
				t.Fatalf("first REGISTER: %v %v", res, err)
			}
			if first := res.GetHeader("WWW-Authenticate").Value(); !strings.Contains(first, "algorithm="+alg) || !strings.Contains(first, `qop="auth"`) {
				t.Fatalf("first challenge %q, want %s with qop auth", first, alg)
			}
			res = register(t, c, newRegister(target(r, "udp"), "1002", "<sip:1002@127.0.0.1:5098>", 60), "1002", testUsers["1002"])
			if res.StatusCode != sip.StatusOK {
				t.Fatalf("status %d", res.StatusCode)
			}
			waitChange(t, changes, "1002", true, ReasonRegistered)
		})
	}
}

func TestWrongPasswordAndUnknownUserGet403(t *testing.T) {
	r, changes := testRegistrar(t, nil)
	c := newClient(t)
	cases := []struct{ name, dn, user, password string }{
		{"wrong password", "1001", "1001", "nope"},
		{"unknown user", "9999", "9999", "whatever"},
		{"other user's credentials", "1001", "1002", testUsers["1002"]},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := register(t, c, newRegister(target(r, "udp"), tc.dn, "<sip:x@127.0.0.1:5099>", 60), tc.user, tc.password)
			if res.StatusCode != sip.StatusForbidden {
				t.Fatalf("status %d, want 403", res.StatusCode)
			}
		})
	}
	noChange(t, changes)
	if b := r.Bindings(); len(b) != 0 {
		t.Fatalf("bindings after refusals: %+v", b)
	}
}

// BC-18: when the registration expires the DN goes out of service (and the
// agent is logged out with dr-force_logout); registering again brings it
// back in service.
func TestExpiryAndReRegistration(t *testing.T) {
	r, changes := testRegistrar(t, nil)
	c := newClient(t)
	res := register(t, c, newRegister(target(r, "udp"), "1001", "<sip:1001@127.0.0.1:5099>", 1), "1001", testUsers["1001"])
	if res.StatusCode != sip.StatusOK {
		t.Fatalf("status %d", res.StatusCode)
	}
	waitChange(t, changes, "1001", true, ReasonRegistered)
	ch := waitChange(t, changes, "1001", false, ReasonExpired)
	if ch.Contact != "sip:1001@127.0.0.1:5099" {
		t.Errorf("expired contact = %q", ch.Contact)
	}
	if got := r.Lookup("1001"); got != nil {
		t.Fatalf("Lookup after expiry = %+v", got)
	}

	res = register(t, c, newRegister(target(r, "tcp"), "1001", "<sip:1001@127.0.0.1:5099;transport=tcp>", 30), "1001", testUsers["1001"])
	if res.StatusCode != sip.StatusOK {
		t.Fatalf("re-register status %d", res.StatusCode)
	}
	waitChange(t, changes, "1001", true, ReasonRegistered)
}

// BC-18: the tester's expire-registration drops the binding at once, as if
// it had expired.
func TestExpireForcesExpiry(t *testing.T) {
	r, changes := testRegistrar(t, nil)
	c := newClient(t)
	register(t, c, newRegister(target(r, "udp"), "1001", "<sip:1001@127.0.0.1:5099>", 3600), "1001", testUsers["1001"])
	waitChange(t, changes, "1001", true, ReasonRegistered)

	if !r.Expire("1001") {
		t.Fatal("Expire of a registered DN returned false")
	}
	waitChange(t, changes, "1001", false, ReasonExpired)
	if got := r.Lookup("1001"); got != nil {
		t.Fatalf("Lookup after Expire = %+v", got)
	}
	if r.Expire("1001") {
		t.Fatal("Expire of an unregistered DN returned true")
	}
	noChange(t, changes)
}

func TestUnregister(t *testing.T) {
	r, changes := testRegistrar(t, nil)
	c := newClient(t)
	register(t, c, newRegister(target(r, "udp"), "1001", "<sip:1001@127.0.0.1:5099>", 60), "1001", testUsers["1001"])
	waitChange(t, changes, "1001", true, ReasonRegistered)

	res := register(t, c, newRegister(target(r, "udp"), "1001", "<sip:1001@127.0.0.1:5099>", 0), "1001", testUsers["1001"])
	if res.StatusCode != sip.StatusOK || len(contactsOf(res)) != 0 {
		t.Fatalf("unregister: %d %q", res.StatusCode, contactsOf(res))
	}
	waitChange(t, changes, "1001", false, ReasonUnregistered)

	// Contact: * with Expires: 0 removes every contact, reported once.
	register(t, c, newRegister(target(r, "tcp"), "1001", "<sip:1001@127.0.0.1:5099>", 60), "1001", testUsers["1001"])
	register(t, c, newRegister(target(r, "tcp"), "1001", "<sip:1001@127.0.0.1:5100>", 60), "1001", testUsers["1001"])
	waitChange(t, changes, "1001", true, ReasonRegistered)
	if n := len(r.Lookup("1001")); n != 2 {
		t.Fatalf("%d contacts, want 2", n)
	}
	res = register(t, c, newRegister(target(r, "tcp"), "1001", "*", 0), "1001", testUsers["1001"])
	if res.StatusCode != sip.StatusOK || len(contactsOf(res)) != 0 {
		t.Fatalf("wildcard: %d %q", res.StatusCode, contactsOf(res))
	}
	waitChange(t, changes, "1001", false, ReasonUnregistered)
	noChange(t, changes)
}

func TestQueryRegister(t *testing.T) {
	r, _ := testRegistrar(t, nil)
	c := newClient(t)
	register(t, c, newRegister(target(r, "udp"), "1001", "<sip:1001@127.0.0.1:5099>", 60), "1001", testUsers["1001"])
	register(t, c, newRegister(target(r, "udp"), "1001", "<sip:1001@127.0.0.1:5100>;expires=120", 60), "1001", testUsers["1001"])

	res := register(t, c, newRegister(target(r, "udp"), "1001", "", -1), "1001", testUsers["1001"])
	if res.StatusCode != sip.StatusOK {
		t.Fatalf("query status %d", res.StatusCode)
	}
	got := contactsOf(res)
	if len(got) != 2 ||
		!strings.Contains(got[0], "127.0.0.1:5099") || !strings.Contains(got[0], "expires=") ||
		!strings.Contains(got[1], "127.0.0.1:5100") || !strings.Contains(got[1], "expires=1") {
		t.Fatalf("query contacts = %q", got)
	}
	if n := len(r.Lookup("1001")); n != 2 {
		t.Fatalf("a query changed the bindings: %d contacts", n)
	}
}

func TestIntervalTooBrief(t *testing.T) {
	r, changes := testRegistrar(t, func(o *Options) { o.MinExpires = 60 * time.Second })
	c := newClient(t)
	res := register(t, c, newRegister(target(r, "udp"), "1001", "<sip:1001@127.0.0.1:5099>", 10), "1001", testUsers["1001"])
	if res.StatusCode != sip.StatusIntervalToBrief {
		t.Fatalf("status %d, want 423", res.StatusCode)
	}
	if h := res.GetHeader("Min-Expires"); h == nil || h.Value() != "60" {
		t.Fatalf("Min-Expires = %v", h)
	}
	noChange(t, changes)
}

func TestOptions(t *testing.T) {
	r, _ := testRegistrar(t, nil)
	c := newClient(t)
	for _, transport := range []string{"udp", "tcp"} {
		if res := options(t, c, target(r, transport), 5*time.Second); res == nil || res.StatusCode != sip.StatusOK {
			t.Fatalf("%s OPTIONS: %v", transport, res)
		}
	}
}

// options sends OPTIONS and returns the final response, or nil when none
// came within wait.
func options(t *testing.T, c *sipgo.Client, to sip.Uri, wait time.Duration) *sip.Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	res, err := c.Do(ctx, sip.NewRequest(sip.OPTIONS, to))
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return nil
		}
		t.Fatalf("OPTIONS: %v", err)
	}
	return res
}

// A blackholed registrar keeps its sockets but never answers; Up answers
// again.
func TestBlackhole(t *testing.T) {
	r, changes := testRegistrar(t, nil)
	c := newClient(t)
	if err := r.SetMode(Blackhole); err != nil {
		t.Fatal(err)
	}
	for _, transport := range []string{"udp", "tcp"} {
		if res := options(t, c, target(r, transport), 300*time.Millisecond); res != nil {
			t.Fatalf("%s OPTIONS answered in Blackhole: %d", transport, res.StatusCode)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if res, err := c.Do(ctx, newRegister(target(r, "udp"), "1001", "<sip:1001@127.0.0.1:5099>", 60)); err == nil {
		t.Fatalf("REGISTER answered in Blackhole: %d", res.StatusCode)
	}
	if err := r.SetMode(Up); err != nil {
		t.Fatal(err)
	}
	for _, transport := range []string{"udp", "tcp"} {
		if res := options(t, c, target(r, transport), 5*time.Second); res == nil || res.StatusCode != sip.StatusOK {
			t.Fatalf("%s OPTIONS after Up: %v", transport, res)
		}
	}
	res := register(t, c, newRegister(target(r, "udp"), "1001", "<sip:1001@127.0.0.1:5099>", 60), "1001", testUsers["1001"])
	if res.StatusCode != sip.StatusOK {
		t.Fatalf("REGISTER after Up: %d", res.StatusCode)
	}
	waitChange(t, changes, "1001", true, ReasonRegistered)
}

// Closed refuses TCP, resets open TCP connections and answers UDP with ICMP;
// Up reopens the very same ports.
func TestClosedThenUpOnSamePorts(t *testing.T) {
	r, changes := testRegistrar(t, nil)
	udpAddr, tcpAddr := r.UDPAddr().String(), r.TCPAddr().String()

	open, err := net.Dial("tcp", tcpAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()
	// The accept happens asynchronously; a byte exchange is not needed, the
	// tracked connection exists once the server accepted it.
	testutil.Eventually(t, "connection accepted", func() bool {
		r.lifeMu.Lock()
		defer r.lifeMu.Unlock()
		r.serving.tcp.mu.Lock()
		defer r.serving.tcp.mu.Unlock()
		return len(r.serving.tcp.conns) == 1
	})

	for range 2 { // twice, to show the cycle repeats
		if err := r.SetMode(Closed); err != nil {
			t.Fatal(err)
		}
		if c, err := net.DialTimeout("tcp", tcpAddr, 2*time.Second); err == nil {
			c.Close()
			t.Fatal("TCP connect succeeded while Closed")
		}
		if err := udpRefused(udpAddr); err != nil {
			t.Fatal(err)
		}
		if err := r.SetMode(Up); err != nil {
			t.Fatalf("Up: %v", err)
		}
		if r.UDPAddr().String() != udpAddr || r.TCPAddr().String() != tcpAddr {
			t.Fatalf("addresses moved: %v %v, want %s %s", r.UDPAddr(), r.TCPAddr(), udpAddr, tcpAddr)
		}
		c := newClient(t)
		for _, transport := range []string{"udp", "tcp"} {
			res := register(t, c, newRegister(target(r, transport), "1001", "<sip:1001@127.0.0.1:5099>", 60), "1001", testUsers["1001"])
			if res.StatusCode != sip.StatusOK {
				t.Fatalf("%s REGISTER after Up: %d", transport, res.StatusCode)
			}
		}
	}
	waitChange(t, changes, "1001", true, ReasonRegistered)

	// The connection opened before Closed was reset.
	open.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = open.Read(make([]byte, 1))
	if err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read on a connection the registrar closed: %v, want reset", err)
	}
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("read error %v, want connection reset", err)
	}
}

// udpRefused sends a datagram to addr and expects the ICMP port unreachable
// to come back as ECONNREFUSED on a connected socket.
func udpRefused(addr string) error {
	c, err := net.Dial("udp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("OPTIONS sip:x SIP/2.0\r\n\r\n")); err != nil {
		return err
	}
	_, err = c.Read(make([]byte, 64))
	if !errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("UDP to a closed registrar: %v, want connection refused", err)
	}
	return nil
}

func TestModeErrors(t *testing.T) {
	r, err := New(Options{Password: func(string) (string, bool) { return "", false }, UDPAddr: ":0"})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.SetMode(Closed); err == nil {
		t.Fatal("SetMode before Start succeeded")
	}
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !r.UDPAddr().IP.IsLoopback() || r.TCPAddr() != nil {
		t.Fatalf("addresses %v %v, want loopback UDP only", r.UDPAddr(), r.TCPAddr())
	}
	if err := r.SetMode(Mode(7)); err == nil {
		t.Fatal("unknown mode accepted")
	}
	if err := r.Start(context.Background()); err == nil {
		t.Fatal("second Start succeeded")
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.SetMode(Up); err == nil {
		t.Fatal("SetMode after Close succeeded")
	}
	if err := r.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// Start's context ends the registrar.
func TestStartContextCloses(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	r, err := New(Options{Password: func(string) (string, bool) { return "", false }, TCPAddr: "127.0.0.1:0", Logger: testutil.Quiet()})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(ctx); err != nil {
		t.Fatal(err)
	}
	addr := r.TCPAddr().String()
	cancel()
	testutil.Eventually(t, "listener closed", func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	if r.Mode() != Closed {
		t.Fatalf("mode %v after context end", r.Mode())
	}
}

func TestNewValidatesOptions(t *testing.T) {
	pw := func(string) (string, bool) { return "", false }
	bad := []Options{
		{UDPAddr: ":0"},
		{Password: pw},
		{Password: pw, UDPAddr: ":0", MinExpires: 1500 * time.Millisecond},
		{Password: pw, UDPAddr: ":0", MinExpires: 100 * time.Second, DefaultExpires: 50 * time.Second},
		{Password: pw, UDPAddr: ":0", Algorithms: []string{"SHA-512"}},
		{Password: pw, UDPAddr: "no-port"},
	}
	for i, o := range bad {
		if _, err := New(o); err == nil {
			t.Errorf("case %d: New accepted %+v", i, o)
		}
	}
}

// BenchmarkRegister measures one authenticated REGISTER round trip over UDP
// (a refresh: the nonce is reused with a growing nonce count).
func BenchmarkRegister(b *testing.B) {
	r, _ := testRegistrar(b, func(o *Options) { o.OnChange = nil })
	c := newClient(b)
	to := target(r, "udp")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := c.Do(ctx, newRegister(to, "1001", "<sip:1001@127.0.0.1:5099>", 3600))
	if err != nil || res.StatusCode != sip.StatusUnauthorized {
		b.Fatalf("challenge: %v %v", res, err)
	}
	ch := challengeFor(b, res, AlgorithmSHA256)
	b.ResetTimer()
	for i := range b.N {
		req := newRegister(to, "1001", "<sip:1001@127.0.0.1:5099>", 3600)
		authorize(b, req, ch, "1001", testUsers["1001"], i+1)
		res, err := c.Do(ctx, req)
		if err != nil || res.StatusCode != sip.StatusOK {
			b.Fatalf("REGISTER %d: %v %v", i, res, err)
		}
	}
}

// Extend adds handlers next to the registrar's on every stack it listens
// with, Start and each return from Closed alike; REGISTER and OPTIONS stay
// the registrar's, and OPTIONS announces the added methods.
func TestExtend(t *testing.T) {
	stacks := make(chan Stack, 10)
	r, changes := testRegistrar(t, func(o *Options) {
		o.Extend = func(st Stack) {
			st.Server.OnMessage(func(req *sip.Request, tx sip.ServerTransaction) {
				tx.Respond(sip.NewResponseFromRequest(req, sip.StatusAccepted, "Taken by the extension", nil))
			})
			st.Server.OnRegister(func(req *sip.Request, tx sip.ServerTransaction) {
				tx.Respond(sip.NewResponseFromRequest(req, sip.StatusForbidden, "Not the registrar", nil))
			})
			stacks <- st
		}
	})
	var prev Stack
	for round := range 2 {
		select {
		case st := <-stacks:
			if round == 1 {
				select {
				case <-prev.Done:
				default:
					t.Fatal("the stack before Closed is not done")
				}
			}
			select {
			case <-st.Done:
				t.Fatalf("round %d: a serving stack is done", round)
			default:
			}
			prev = st
			if st.UA == nil || st.UDPAddr.String() != r.UDPAddr().String() || st.TCPAddr.String() != r.TCPAddr().String() {
				t.Fatalf("round %d: stack %+v, registrar at %v %v", round, st, r.UDPAddr(), r.TCPAddr())
			}
		case <-time.After(testutil.Wait):
			t.Fatalf("round %d: Extend not called", round)
		}
		c := newClient(t)
		for _, transport := range []string{"udp", "tcp"} {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			res, err := c.Do(ctx, sip.NewRequest(sip.MESSAGE, target(r, transport)))
			cancel()
			if err != nil || res.StatusCode != sip.StatusAccepted {
				t.Fatalf("round %d %s MESSAGE: %v %v", round, transport, res, err)
			}
			res = options(t, c, target(r, transport), 5*time.Second)
			if res == nil || res.StatusCode != sip.StatusOK {
				t.Fatalf("round %d %s OPTIONS: %v", round, transport, res)
			}
			if h := res.GetHeader("Allow"); h == nil || h.Value() != "MESSAGE, OPTIONS, REGISTER" {
				t.Fatalf("round %d %s Allow: %v", round, transport, h)
			}
		}
		res := register(t, c, newRegister(target(r, "udp"), "1001", "<sip:1001@127.0.0.1:5099>", 60), "1001", testUsers["1001"])
		if res.StatusCode != sip.StatusOK {
			t.Fatalf("round %d REGISTER: %d", round, res.StatusCode)
		}
		if round == 0 {
			waitChange(t, changes, "1001", true, ReasonRegistered)
			if err := r.SetMode(Closed); err != nil {
				t.Fatal(err)
			}
			if err := r.SetMode(Up); err != nil {
				t.Fatal(err)
			}
		}
	}
}
