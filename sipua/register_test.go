package sipua

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tandem-softphone/tandem/sitesim/registrar"
)

// BC-2: one endpoint keeps registrations with both sites' registrars at
// once, each with its own binding.
func TestDualRegistration(t *testing.T) {
	s1 := startSite(t, "site1.test", nil)
	s2 := startSite(t, "site2.test", nil)
	e, rec := startEndpoint(t, fastOptions(
		s1.account("site1", TransportUDP, "1001"),
		s2.account("site2", TransportTCP, "2001"),
	))
	r1 := waitState(t, e, "site1", RegistrationRegistered, 5*time.Second)
	r2 := waitState(t, e, "site2", RegistrationRegistered, 5*time.Second)
	c1 := s1.waitChange(t, "1001", true, registrar.ReasonRegistered)
	c2 := s2.waitChange(t, "2001", true, registrar.ReasonRegistered)

	udpPort := e.Addr(TransportUDP).String()
	tcpPort := e.Addr(TransportTCP).String()
	if c1.Contact != "sip:1001@"+udpPort || r1.Contact != c1.Contact {
		t.Errorf("site1 contact: registrar %q, endpoint %q, want sip:1001@%s", c1.Contact, r1.Contact, udpPort)
	}
	if c2.Contact != "sip:2001@"+tcpPort+";transport=tcp" || r2.Contact != c2.Contact {
		t.Errorf("site2 contact: registrar %q, endpoint %q, want sip:2001@%s;transport=tcp", c2.Contact, r2.Contact, tcpPort)
	}
	// The UDP REGISTER came from the listening socket, so replies and
	// incoming requests reach the same place.
	if b := s1.Lookup("1001"); len(b) != 1 || b[0].Source != udpPort || b[0].Transport != "UDP" {
		t.Errorf("site1 binding = %+v, want source %s over UDP", b, udpPort)
	}
	if b := s2.Lookup("2001"); len(b) != 1 || b[0].Transport != "TCP" {
		t.Errorf("site2 binding = %+v, want TCP", b)
	}
	for _, r := range []Registration{r1, r2} {
		if r.Code != 200 || r.ExpiresAt.IsZero() || !r.NextAttempt.Before(r.ExpiresAt) || !r.Refreshing {
			t.Errorf("%s: %+v", r.Site, r)
		}
		if time.Until(r.ExpiresAt) > 61*time.Second || time.Until(r.ExpiresAt) < 50*time.Second {
			t.Errorf("%s expires at %v, want about 60 s from now", r.Site, r.ExpiresAt)
		}
	}
	for _, site := range []string{"site1", "site2"} {
		want := []RegistrationState{RegistrationRegistering, RegistrationRegistered}
		rec.waitStates(t, site, want, 5*time.Second)
	}
}

// Digest with each algorithm a registrar may offer; with several offered,
// the topmost one is answered.
func TestDigestAlgorithms(t *testing.T) {
	for _, algs := range [][]string{
		{registrar.AlgorithmMD5},
		{registrar.AlgorithmSHA256},
		{registrar.AlgorithmSHA256, registrar.AlgorithmMD5},
		{registrar.AlgorithmMD5, registrar.AlgorithmSHA256},
	} {
		t.Run(strings.Join(algs, "+"), func(t *testing.T) {
			s := startSite(t, "site1.test", func(o *registrar.Options) { o.Algorithms = algs })
			e, _ := startEndpoint(t, fastOptions(s.account("site1", TransportUDP, "1001")))
			waitState(t, e, "site1", RegistrationRegistered, 5*time.Second)
		})
	}
}

func TestWrongPasswordFails403(t *testing.T) {
	s := startSite(t, "site1.test", nil)
	a := s.account("site1", TransportTCP, "1001")
	a.Password = "wrong"
	opts := fastOptions(a)
	opts.MaxBackoff = time.Minute
	e, _ := startEndpoint(t, opts)
	reg := waitState(t, e, "site1", RegistrationFailed, 5*time.Second)
	if reg.Code != 403 || reg.Reason != "Forbidden" {
		t.Fatalf("failed with %d %q, want 403 Forbidden", reg.Code, reg.Reason)
	}
	if reg.NextAttempt.IsZero() {
		t.Error("no retry planned")
	}
	if b := s.Lookup("1001"); len(b) != 0 {
		t.Fatalf("bound with a wrong password: %+v", b)
	}
	// The probes find the registrar alive, which must not reset the
	// back-off of a refusal: the retries (after 0.1, 0.2, 0.4 s…) go on
	// counting.
	time.Sleep(5 * opts.ProbeInterval)
	r := e.sites["site1"]
	r.mu.Lock()
	failures, code := r.failures, r.code
	r.mu.Unlock()
	if failures < 3 || code != 403 {
		t.Fatalf("after 1 s of probes: %d consecutive failures, last %d; want ≥ 3 and 403", failures, code)
	}
}

// A binding granted for 2 s is refreshed before it runs out, on both
// transports, so the registrar never expires it.
func TestRefreshKeepsRegistered(t *testing.T) {
	s := startSite(t, "site1.test", nil)
	u := s.account("site1", TransportUDP, "1001")
	u.Expires = 2 * time.Second
	c := s.account("site2", TransportTCP, "2001")
	c.Expires = 2 * time.Second
	e, _ := startEndpoint(t, fastOptions(u, c))
	first := waitState(t, e, "site1", RegistrationRegistered, 5*time.Second)
	waitState(t, e, "site2", RegistrationRegistered, 5*time.Second)
	s.waitChange(t, "1001", true, registrar.ReasonRegistered)
	s.waitChange(t, "2001", true, registrar.ReasonRegistered)

	time.Sleep(5 * time.Second) // two and a half lifetimes
	select {
	case ch := <-s.changes:
		t.Fatalf("registrar reported %+v during refreshes", ch)
	default:
	}
	for _, site := range []string{"site1", "site2"} {
		reg, _ := e.Registration(site)
		if reg.State != RegistrationRegistered || !reg.ExpiresAt.After(first.ExpiresAt.Add(2*time.Second)) {
			t.Errorf("%s after 5 s: %+v (first expiry %v)", site, reg, first.ExpiresAt)
		}
	}
	if got := len(s.Bindings()); got != 2 {
		t.Fatalf("registrar holds %d bindings, want 2", got)
	}
}

// A registrar that dies is noticed by the probe within a few probe
// intervals, long before the binding's refresh (30 s away) would have, and
// the account registers again as soon as the registrar is back.
func TestDeadRegistrarNoticedAndRecovered(t *testing.T) {
	for _, transport := range []string{TransportUDP, TransportTCP} {
		for _, mode := range []registrar.Mode{registrar.Closed, registrar.Blackhole} {
			t.Run(transport+"/"+mode.String(), func(t *testing.T) {
				t.Parallel()
				s := startSite(t, "site1.test", nil)
				e, rec := startEndpoint(t, fastOptions(s.account("site1", transport, "1001")))
				waitState(t, e, "site1", RegistrationRegistered, 5*time.Second)

				if err := s.SetMode(mode); err != nil {
					t.Fatal(err)
				}
				reg := waitState(t, e, "site1", RegistrationFailed, 5*time.Second)
				if reg.Code != 0 || reg.Reason != reasonUnreachable {
					t.Fatalf("failed with %d %q, want %q", reg.Code, reg.Reason, reasonUnreachable)
				}
				if err := s.SetMode(registrar.Up); err != nil {
					t.Fatal(err)
				}
				reg = waitState(t, e, "site1", RegistrationRegistered, 5*time.Second)
				if time.Until(reg.ExpiresAt) < 50*time.Second {
					t.Fatalf("re-registered binding expires at %v", reg.ExpiresAt)
				}
				eventually(t, "failed then registered reported", func() bool {
					states := rec.states("site1")
					i := slices.Index(states, RegistrationFailed)
					return i >= 0 && slices.Contains(states[i:], RegistrationRegistered)
				})
			})
		}
	}
}

// A registrar that is down at start: the account fails, retries with
// back-off, and registers once the registrar comes up.
func TestRegistrarDownAtStart(t *testing.T) {
	s := startSite(t, "site1.test", nil)
	if err := s.SetMode(registrar.Closed); err != nil {
		t.Fatal(err)
	}
	e, _ := startEndpoint(t, fastOptions(s.account("site1", TransportTCP, "1001")))
	waitState(t, e, "site1", RegistrationFailed, 5*time.Second)
	if err := s.SetMode(registrar.Up); err != nil {
		t.Fatal(err)
	}
	waitState(t, e, "site1", RegistrationRegistered, 5*time.Second)
}

// BC-18: the tester stops refreshing one site's registration; the
// registrar expires the binding (which raises dr-force_logout there), the
// endpoint shows Expired, the other site stays registered, and resuming
// brings the binding back.
func TestExpireRegistration(t *testing.T) {
	s1 := startSite(t, "site1.test", nil)
	s2 := startSite(t, "site2.test", nil)
	a1 := s1.account("site1", TransportUDP, "1001")
	a1.Expires = 2 * time.Second
	a2 := s2.account("site2", TransportUDP, "2001")
	a2.Expires = 2 * time.Second
	e, rec := startEndpoint(t, fastOptions(a1, a2))
	waitState(t, e, "site1", RegistrationRegistered, 5*time.Second)
	waitState(t, e, "site2", RegistrationRegistered, 5*time.Second)
	s1.waitChange(t, "1001", true, registrar.ReasonRegistered)

	if err := e.ExpireRegistration("site1"); err != nil {
		t.Fatal(err)
	}
	s1.waitChange(t, "1001", false, registrar.ReasonExpired)
	reg := waitState(t, e, "site1", RegistrationExpired, 5*time.Second)
	if reg.Refreshing || !reg.NextAttempt.IsZero() {
		t.Errorf("expired registration %+v", reg)
	}
	if reg, _ := e.Registration("site2"); reg.State != RegistrationRegistered {
		t.Fatalf("site2 %v while site1 expired", reg.State)
	}
	rec.waitStates(t, "site1", []RegistrationState{RegistrationRegistering, RegistrationRegistered, RegistrationExpired}, 5*time.Second)

	if err := e.ResumeRegistration("site1"); err != nil {
		t.Fatal(err)
	}
	waitState(t, e, "site1", RegistrationRegistered, 5*time.Second)
	s1.waitChange(t, "1001", true, registrar.ReasonRegistered)

	// Reregister also ends a stop, at once.
	if err := e.ExpireRegistration("site2"); err != nil {
		t.Fatal(err)
	}
	if err := e.Reregister("site2"); err != nil {
		t.Fatal(err)
	}
	if reg, _ := e.Registration("site2"); !reg.Refreshing {
		t.Fatal("Reregister left refreshing stopped")
	}
	if err := e.ExpireRegistration("nowhere"); !errors.Is(err, ErrUnknownSite) {
		t.Fatalf("unknown site: %v", err)
	}
}

// Close removes the bindings and reports Unregistered last.
func TestCloseUnregisters(t *testing.T) {
	s := startSite(t, "site1.test", nil)
	e, rec := startEndpoint(t, fastOptions(s.account("site1", TransportUDP, "1001"), s.account("site2", TransportTCP, "2001")))
	waitState(t, e, "site1", RegistrationRegistered, 5*time.Second)
	waitState(t, e, "site2", RegistrationRegistered, 5*time.Second)
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if b := s.Bindings(); len(b) != 0 {
		t.Fatalf("bindings left after Close: %+v", b)
	}
	for _, site := range []string{"site1", "site2"} {
		states := rec.states(site)
		if len(states) == 0 || states[len(states)-1] != RegistrationUnregistered {
			t.Errorf("%s events %v, want unregistered last", site, states)
		}
	}
	if err := e.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// Close is bounded even when a registrar does not answer the un-REGISTER.
func TestCloseBoundedWhenRegistrarSilent(t *testing.T) {
	s := startSite(t, "site1.test", nil)
	opts := fastOptions(s.account("site1", TransportUDP, "1001"))
	opts.CloseTimeout = 300 * time.Millisecond
	opts.ProbeInterval = time.Hour
	e, _ := startEndpoint(t, opts)
	waitState(t, e, "site1", RegistrationRegistered, 5*time.Second)
	if err := s.SetMode(registrar.Blackhole); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	e.Close()
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("Close took %v", d)
	}
}

// Ending Start's context closes the endpoint.
func TestStartContextCloses(t *testing.T) {
	s := startSite(t, "site1.test", nil)
	e, err := New(fastOptions(s.account("site1", TransportUDP, "1001")))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	waitState(t, e, "site1", RegistrationRegistered, 5*time.Second)
	cancel()
	waitState(t, e, "site1", RegistrationUnregistered, 5*time.Second)
	if err := e.Start(context.Background()); err == nil {
		t.Fatal("Start after close succeeded")
	}
}

// One REGISTER with digest authentication on loopback: two round trips.
func BenchmarkRegister(b *testing.B) {
	s := startSite(b, "site1.test", nil)
	opts := fastOptions(s.account("site1", TransportUDP, "1001"))
	opts.ProbeInterval = time.Hour
	e, _ := startEndpoint(b, opts)
	waitState(b, e, "site1", RegistrationRegistered, 5*time.Second)
	r := e.sites["site1"]
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		res, err := r.transact(ctx, time.Minute)
		if err != nil || res.StatusCode != 200 {
			b.Fatalf("REGISTER: %v %v", res, err)
		}
	}
}

// A registrar that finds our interval too brief (423) gets its
// Min-Expires at once, and keeps getting it.
func TestIntervalTooBrief(t *testing.T) {
	s := startSite(t, "site1.test", func(o *registrar.Options) { o.MinExpires = 120 * time.Second })
	e, _ := startEndpoint(t, fastOptions(s.account("site1", TransportUDP, "1001")))
	reg := waitState(t, e, "site1", RegistrationRegistered, 5*time.Second)
	if left := time.Until(reg.ExpiresAt); left < 110*time.Second || left > 121*time.Second {
		t.Fatalf("expires in %v, want about 120 s", left)
	}
	if err := e.Reregister("site1"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "second registration", func() bool {
		now, _ := e.Registration("site1")
		return now.State == RegistrationRegistered && now.ExpiresAt.After(reg.ExpiresAt)
	})
	r := e.sites["site1"]
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.expires != 120*time.Second {
		t.Fatalf("asks for %v, want the registrar's 120 s", r.expires)
	}
}
