package sipua

import (
	"strings"
	"testing"
	"time"
)

func TestAccountDefaultsAndChecks(t *testing.T) {
	a, err := Account{Site: "site1", Registrar: "sip.site1.test", User: "1001", Transport: "TLS"}.normalize()
	if err != nil {
		t.Fatal(err)
	}
	if a.Registrar != "sip.site1.test:5061" || a.Transport != TransportTLS || a.Domain != "sip.site1.test" ||
		a.AuthUser != "1001" || a.Expires != DefaultExpires || a.TLSServerName != "sip.site1.test" {
		t.Fatalf("defaults: %+v", a)
	}
	a, err = Account{Site: "s", Registrar: "[::1]", User: "1", Expires: 1500 * time.Millisecond}.normalize()
	if err != nil || a.Registrar != "[::1]:5060" || a.Transport != TransportUDP || a.Expires != time.Second {
		t.Fatalf("IPv6 without port: %+v %v", a, err)
	}
	for _, bad := range []Account{
		{Registrar: "h:5060", User: "1"},
		{Site: "s", Registrar: "h:5060"},
		{Site: "s", Registrar: "h:5060", User: "1", Transport: "sctp"},
		{Site: "s", Registrar: "", User: "1"},
		{Site: "s", Registrar: "h:99999", User: "1"},
		{Site: "s", Registrar: "h:x", User: "1"},
		{Site: "s", Registrar: "a:b:c", User: "1"},
		{Site: "s", Registrar: "h", User: "1", Expires: time.Millisecond},
	} {
		if _, err := bad.normalize(); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

func TestOptionsChecks(t *testing.T) {
	acct := Account{Site: "site1", Registrar: "127.0.0.1:5060", User: "1001"}
	o, err := Options{Accounts: []Account{acct}}.normalize()
	if err != nil {
		t.Fatal(err)
	}
	if o.LocalIP != "127.0.0.1" || o.ProbeInterval != 5*time.Second || o.MaxBackoff != 30*time.Second ||
		!strings.HasPrefix(o.InstanceID, "urn:uuid:") || o.Clock == nil || o.Logger == nil {
		t.Fatalf("defaults: %+v", o)
	}
	for name, bad := range map[string]Options{
		"no accounts":    {},
		"duplicate site": {Accounts: []Account{acct, acct}},
		"bad LocalIP":    {Accounts: []Account{acct}, LocalIP: "localhost"},
		"bad port":       {Accounts: []Account{acct}, ListenPort: 70000},
		"backoff order":  {Accounts: []Account{acct}, MinBackoff: time.Minute, MaxBackoff: time.Second},
		"negative":       {Accounts: []Account{acct}, ProbeTimeout: -time.Second},
	} {
		if _, err := New(bad); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// The password never reaches a log line.
func TestAccountLogValueHidesPassword(t *testing.T) {
	v := Account{Site: "s", User: "1001", Password: "hunter2"}.LogValue()
	if strings.Contains(v.String(), "hunter2") {
		t.Fatalf("log value %s shows the password", v)
	}
}

func TestBackoff(t *testing.T) {
	lo, hi := 100*time.Millisecond, 2*time.Second
	for n, want := range []time.Duration{0, 100, 200, 400, 800, 1600, 2000, 2000} {
		if n == 0 {
			continue
		}
		want *= time.Millisecond
		for range 50 {
			if got := backoff(n, lo, hi); got > want || got < want*3/4 {
				t.Fatalf("backoff(%d) = %v, want within [%v, %v]", n, got, want*3/4, want)
			}
		}
	}
}

func TestStateNames(t *testing.T) {
	for s := RegistrationUnregistered; s <= RegistrationCertificateError; s++ {
		if strings.HasPrefix(s.String(), "RegistrationState(") {
			t.Errorf("state %d has no name", int(s))
		}
	}
	if RegistrationState(99).String() != "RegistrationState(99)" {
		t.Error("unknown state name")
	}
}
