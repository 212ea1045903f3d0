package confsim

import (
	"errors"
	"testing"

	"github.com/tandem-softphone/tandem/confserv"
	"github.com/tandem-softphone/tandem/internal/testutil"
	"github.com/tandem-softphone/tandem/link"
	"github.com/tandem-softphone/tandem/sitesim/directory"
	"github.com/tandem-softphone/tandem/wire"
)

const password = "login-secret"

func start(t *testing.T) *Pair {
	t.Helper()
	d := directory.NewDirectory()
	d.AddApplication(directory.Application{Name: "AIL_Site1", Site: 1})
	d.AddPerson(directory.Person{
		UserName: "SIP_5320", Password: password, AgentID: "5320",
		Annex:  directory.Options{wire.SectionAgentDesktop: {wire.OptSite1: "AIL_Site1"}},
		Places: [2]string{"Place_5320", "Place_5320"}, DNs: [2]string{"5320", "7320"},
	}, "sip-secret")
	d.AddPerson(directory.Person{UserName: "SIP_5321", Password: "x", AgentID: "5321", DNs: [2]string{"5321", "5321"}}, "sip-other")
	p := New(Options{Dir: d, Site: 2, PrimaryAddr: "127.0.0.1:0", BackupAddr: "127.0.0.1:0", Link: link.Options{Logger: testutil.Quiet()}})
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

func dial(t *testing.T, addr string) *link.Conn {
	t.Helper()
	c, err := link.Dial(testutil.Context(t), addr, link.Options{AppName: "test", Logger: testutil.Quiet()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func auth(user, pw, app string) wire.Message {
	return wire.Message{Name: wire.RequestAuthenticate, Attrs: wire.KVList{}.
		Add(wire.AttrUserName, user).Add(wire.AttrPassword, pw).Add(wire.AttrApplicationName, app)}
}

func read(typ, name string) wire.Message {
	return wire.Message{Name: wire.RequestReadObject, Attrs: wire.KVList{}.Add(wire.AttrObjectType, typ).Add(wire.AttrObjectName, name)}
}

func wantCode(t *testing.T, err error, code int64) {
	t.Helper()
	var re *link.RemoteError
	if !errors.As(err, &re) || re.Code != code {
		t.Fatalf("error %v, want code %d", err, code)
	}
}

func TestReadsNeedAuthentication(t *testing.T) {
	p := start(t)
	primary, _ := p.Addrs()
	c := dial(t, primary)
	_, err := c.Request(testutil.Context(t), read(wire.ObjectTypePerson, "SIP_5320"))
	wantCode(t, err, wire.ErrCodeAuthFailed)
	_, err = c.Request(testutil.Context(t), auth("SIP_5320", "bad", "AIL_Site1"))
	wantCode(t, err, wire.ErrCodeAuthFailed)
	_, err = c.Request(testutil.Context(t), read(wire.ObjectTypePerson, "SIP_5320"))
	wantCode(t, err, wire.ErrCodeAuthFailed)
	if _, err := c.Request(testutil.Context(t), auth("SIP_5320", password, "AIL_Site1")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Request(testutil.Context(t), read(wire.ObjectTypePerson, "SIP_5320")); err != nil {
		t.Fatal(err)
	}
	// A failed new attempt ends the session.
	_, err = c.Request(testutil.Context(t), auth("SIP_5320", "bad", "AIL_Site1"))
	wantCode(t, err, wire.ErrCodeAuthFailed)
	_, err = c.Request(testutil.Context(t), read(wire.ObjectTypePerson, "SIP_5320"))
	wantCode(t, err, wire.ErrCodeAuthFailed)
}

func TestAuthenticationAnswers(t *testing.T) {
	p := start(t)
	primary, _ := p.Addrs()
	c := dial(t, primary)
	// Unknown application: the refusal names it.
	ans, err := c.Request(testutil.Context(t), auth("SIP_5320", password, "AIL_X"))
	wantCode(t, err, wire.ErrCodeAuthFailed)
	if ans.Attrs.String(wire.AttrObjectType) != wire.ObjectTypeApplication || ans.Attrs.String(wire.AttrObjectName) != "AIL_X" {
		t.Fatalf("unknown application answer %v", ans)
	}
	// Unknown user and wrong password: the same answer, naming nothing.
	a1, err1 := c.Request(testutil.Context(t), auth("SIP_9999", password, "AIL_Site1"))
	a2, err2 := c.Request(testutil.Context(t), auth("SIP_5320", "bad", "AIL_Site1"))
	wantCode(t, err1, wire.ErrCodeAuthFailed)
	wantCode(t, err2, wire.ErrCodeAuthFailed)
	if a1.Attrs.String(wire.AttrErrorMessage) != a2.Attrs.String(wire.AttrErrorMessage) {
		t.Fatalf("unknown user and wrong password answered differently: %v / %v", a1, a2)
	}
	if _, ok := a1.Attrs.Get(wire.AttrObjectType); ok {
		t.Fatalf("credentials refusal names an object: %v", a1)
	}
	ok, err := c.Request(testutil.Context(t), auth("SIP_5320", password, "AIL_Site1"))
	if err != nil || ok.Name != wire.EventAuthenticated || ok.Attrs.String(wire.AttrAgentID) != "5320" {
		t.Fatalf("authenticated %v %v", ok, err)
	}
}

// The person object carries no password, at any depth.
func TestPersonHasNoPassword(t *testing.T) {
	p := start(t)
	primary, _ := p.Addrs()
	c := dial(t, primary)
	if _, err := c.Request(testutil.Context(t), auth("SIP_5320", password, "AIL_Site1")); err != nil {
		t.Fatal(err)
	}
	ans, err := c.Request(testutil.Context(t), read(wire.ObjectTypePerson, "SIP_5320"))
	if err != nil {
		t.Fatal(err)
	}
	var walk func(l wire.KVList)
	walk = func(l wire.KVList) {
		for _, p := range l {
			if s, _ := p.Value.(string); s == password || p.Key == wire.AttrPassword {
				t.Fatalf("password in the person object: %v", ans.Attrs)
			}
			if n, ok := p.Value.(wire.KVList); ok {
				walk(n)
			}
		}
	}
	walk(ans.Attrs)
	if site1 := ans.Attrs.List(wire.AttrObject).List(wire.AttrAnnex).List(wire.SectionAgentDesktop).String(wire.OptSite1); site1 != "AIL_Site1" {
		t.Fatalf("annex missing: %v", ans.Attrs)
	}
}

func TestReadObjectErrors(t *testing.T) {
	p := start(t)
	primary, _ := p.Addrs()
	c := dial(t, primary)
	if _, err := c.Request(testutil.Context(t), auth("SIP_5320", password, "AIL_Site1")); err != nil {
		t.Fatal(err)
	}
	_, err := c.Request(testutil.Context(t), read("CfgSwitch", "x"))
	wantCode(t, err, wire.ErrCodeInvalidAttribute)
	_, err = c.Request(testutil.Context(t), read(wire.ObjectTypePerson, ""))
	wantCode(t, err, wire.ErrCodeInvalidAttribute)
	_, err = c.Request(testutil.Context(t), wire.Message{Name: "RequestDeleteObject"})
	wantCode(t, err, wire.ErrCodeUnknownRequest)

	// A DN read without Site is at the pair's own site (2 here).
	ans, err := c.Request(testutil.Context(t), read(wire.ObjectTypeDN, "7320"))
	if err != nil {
		t.Fatal(err)
	}
	if d, err := confserv.DecodeDN(ans.Attrs.List(wire.AttrObject)); err != nil || d.Site != 2 || d.Password() != "sip-secret" {
		t.Fatalf("DN %+v %v", d, err)
	}
	bad := read(wire.ObjectTypeDN, "5320")
	bad.Attrs = bad.Attrs.Add(wire.AttrSite, "1")
	_, err = c.Request(testutil.Context(t), bad)
	wantCode(t, err, wire.ErrCodeInvalidAttribute)
	// Another person's DN answers as a DN that does not exist.
	other := read(wire.ObjectTypeDN, "5321")
	other.Attrs = other.Attrs.Add(wire.AttrSite, int64(1))
	_, err = c.Request(testutil.Context(t), other)
	wantCode(t, err, wire.ErrCodeNotFound)
}

// The backup announces itself backup, and primary once the primary is down.
func TestServerRole(t *testing.T) {
	p := start(t)
	primary, backup := p.Addrs()
	if r := dial(t, primary).Peer().Role; r != "primary" {
		t.Fatalf("primary's role %q", r)
	}
	if r := dial(t, backup).Peer().Role; r != "backup" {
		t.Fatalf("backup's role %q", r)
	}
	p.SetMode(link.Primary, link.Closed)
	if r := dial(t, backup).Peer().Role; r != "primary" {
		t.Fatalf("backup's role with the primary down %q", r)
	}
}
