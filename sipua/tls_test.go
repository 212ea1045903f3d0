package sipua

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tandem-softphone/tandem/sitesim/registrar"
)

// tlsAccount is an account at s reached through a TLS front with a
// certificate for certName.
func tlsAccount(t *testing.T, s *site, ca *testCA, certName, serverName string) Account {
	front := tlsFront(t, ca.issue(t, certName), s.TCPAddr().String())
	a := s.account("site1", TransportTLS, "1001")
	a.Registrar = front
	a.TLSServerName = serverName
	return a
}

// TLS verifies the configured name against the registrar's certificate,
// even though the registrar is reached by IP address.
func TestTLSRegistration(t *testing.T) {
	ca := newTestCA(t)
	s1 := startSite(t, "site1.test", nil)
	s2 := startSite(t, "site2.test", nil)
	a1 := tlsAccount(t, s1, ca, "sip.site1.test", "sip.site1.test")
	a2 := tlsAccount(t, s2, ca, "sip.site2.test", "sip.site2.test")
	a2.Site, a2.User, a2.Password = "site2", "2001", testPasswords["2001"]
	opts := fastOptions(a1, a2)
	opts.TLSRootCAs = ca.pool
	e, _ := startEndpoint(t, opts)
	waitState(t, e, "site1", RegistrationRegistered, 5*time.Second)
	waitState(t, e, "site2", RegistrationRegistered, 5*time.Second)
	c := s1.waitChange(t, "1001", true, registrar.ReasonRegistered)
	want := "sip:1001@" + e.Addr(TransportTLS).String() + ";transport=tls"
	if c.Contact != want {
		t.Fatalf("contact %q, want %q", c.Contact, want)
	}
	s2.waitChange(t, "2001", true, registrar.ReasonRegistered)

	// The probe and the refresh reuse the verified connection.
	time.Sleep(3 * opts.ProbeInterval)
	if reg, _ := e.Registration("site1"); reg.State != RegistrationRegistered {
		t.Fatalf("after probes: %+v", reg)
	}
	if err := e.Reregister("site1"); err != nil {
		t.Fatal(err)
	}
	waitState(t, e, "site1", RegistrationRegistered, 5*time.Second)

	// Peers can also connect to our TLS port, which presents a
	// self-signed certificate for our address.
	conn, err := tls.Dial("tcp", e.Addr(TransportTLS).String(), &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	leaf := conn.ConnectionState().PeerCertificates[0]
	if err := leaf.VerifyHostname("127.0.0.1"); err != nil {
		t.Errorf("our certificate: %v", err)
	}
	local := conn.LocalAddr().String()
	fmt.Fprintf(conn, "OPTIONS sip:1001@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TLS %s;branch=z9hG4bK-tls-1\r\n"+
		"From: <sip:peer@127.0.0.1>;tag=p\r\nTo: <sip:1001@127.0.0.1>\r\nCall-ID: tls-options\r\n"+
		"CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n", local)
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	status, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil || !strings.HasPrefix(status, "SIP/2.0 200") {
		t.Fatalf("OPTIONS over TLS: %q %v", status, err)
	}
}

// A certificate for another name, or from an unknown authority, is its own
// state, not a generic failure.
func TestTLSCertificateError(t *testing.T) {
	ca := newTestCA(t)
	s := startSite(t, "site1.test", nil)
	for _, tc := range []struct {
		name  string
		roots bool
		want  string
	}{
		{"wrong host name", true, "not sip.site1.test"},
		{"unknown authority", false, "unknown authority"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			certName := "sip.site1.test"
			if tc.roots {
				certName = "other.test"
			}
			opts := fastOptions(tlsAccount(t, s, ca, certName, "sip.site1.test"))
			if tc.roots {
				opts.TLSRootCAs = ca.pool
			}
			e, rec := startEndpoint(t, opts)
			reg := waitState(t, e, "site1", RegistrationCertificateError, 5*time.Second)
			if !strings.Contains(reg.Reason, tc.want) {
				t.Fatalf("reason %q, want it to mention %q", reg.Reason, tc.want)
			}
			// Probes and retries keep it in that state, without an event
			// for each attempt. (A loaded machine may time the first
			// handshake out, which is reported as a plain failure first.)
			eventually(t, "certificate error reported", func() bool {
				got := rec.states("site1")
				return len(got) > 0 && got[len(got)-1] == RegistrationCertificateError
			})
			before := rec.states("site1")
			time.Sleep(5 * opts.ProbeInterval)
			if reg, _ := e.Registration("site1"); reg.State != RegistrationCertificateError {
				t.Fatalf("later: %+v", reg)
			}
			if got := rec.states("site1"); len(got) != len(before) || got[0] != RegistrationRegistering || slices.Contains(got, RegistrationRegistered) {
				t.Fatalf("events %v, then %v: want one certificate error, not one per attempt", before, got)
			}
			if b := s.Lookup("1001"); len(b) != 0 {
				t.Fatalf("registered through a bad certificate: %+v", b)
			}
		})
	}
}
