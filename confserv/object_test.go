package confserv

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/tandem-softphone/tandem/wire"
)

func TestObjectRoundTrip(t *testing.T) {
	p := Person{UserName: "u", AgentID: "1", FirstName: "F", LastName: "L", Annex: Sections{"agent-desktop": {"site-1": "A", "site-2": "B"}, "empty": {}}}
	a := Application{Name: "A", Site: 2, Options: Sections{"agent-desktop": {"site-timeout": "30"}},
		Connections: []Connection{{Type: wire.ConnTypeTServer, Primary: "h:1", Backup: "h:2"}, {Type: wire.ConnTypeSIPRegistrar, Primary: "h:5060", Transport: "udp"}}}
	pl := Place{Name: "P", Site: 1, DN: "5320"}
	d := DN{Number: "5320", Site: 1, Annex: Sections{wire.SectionTServer: {wire.OptPassword: "x"}}}

	if got, err := DecodePerson(reencode(t, p.Object())); err != nil || !reflect.DeepEqual(got, p) {
		t.Fatalf("person %+v, %v", got, err)
	}
	if got, err := DecodeApplication(reencode(t, a.Object())); err != nil || !reflect.DeepEqual(got, a) {
		t.Fatalf("application %+v, %v", got, err)
	}
	if got, err := DecodePlace(reencode(t, pl.Object())); err != nil || got != pl {
		t.Fatalf("place %+v, %v", got, err)
	}
	if got, err := DecodeDN(reencode(t, d.Object())); err != nil || !reflect.DeepEqual(got, d) || got.Password() != "x" {
		t.Fatalf("DN %+v, %v", got, err)
	}
	// The person object never has a password attribute, and its bytes do not
	// depend on map order.
	if _, ok := p.Object().Get(wire.AttrPassword); ok {
		t.Fatal("person object with a Password attribute")
	}
	b1, _ := wire.Append(nil, wire.Message{Name: "X", Attrs: a.Object()})
	for range 20 {
		b2, _ := wire.Append(nil, wire.Message{Name: "X", Attrs: a.Object()})
		if string(b1) != string(b2) {
			t.Fatal("encoding depends on map order")
		}
	}
}

// reencode passes an object through the wire format, as the server sends it.
func reencode(t testing.TB, obj wire.KVList) wire.KVList {
	t.Helper()
	b, err := wire.Append(nil, wire.Message{Name: wire.EventObjectRead, Attrs: wire.KVList{}.Add(wire.AttrObject, obj)})
	if err != nil {
		t.Fatal(err)
	}
	m, err := wire.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	return m.Attrs.List(wire.AttrObject)
}

func TestDecodeErrors(t *testing.T) {
	l := wire.KVList{}
	for _, tc := range []struct {
		name   string
		decode func(wire.KVList) error
		obj    wire.KVList
	}{
		{"person without user name", person, l.Add(wire.AttrAgentID, "1")},
		{"person user name int", person, l.Add(wire.AttrUserName, 5)},
		{"annex not a list", person, l.Add(wire.AttrUserName, "u").Add(wire.AttrAnnex, "x")},
		{"section not a list", person, l.Add(wire.AttrUserName, "u").Add(wire.AttrAnnex, l.Add("agent-desktop", "x"))},
		{"option not a string", person, l.Add(wire.AttrUserName, "u").Add(wire.AttrAnnex, l.Add("agent-desktop", l.Add("site-1", 1)))},
		{"application without name", application, l.Add(wire.AttrSite, 1)},
		{"site 3", application, l.Add(wire.AttrName, "A").Add(wire.AttrSite, 3)},
		{"site string", application, l.Add(wire.AttrName, "A").Add(wire.AttrSite, "1")},
		{"connections not a list", application, l.Add(wire.AttrName, "A").Add(wire.AttrConnections, "x")},
		{"connection not a list", application, l.Add(wire.AttrName, "A").Add(wire.AttrConnections, l.Add(wire.AttrConnection, "x"))},
		{"connection without type", application, l.Add(wire.AttrName, "A").Add(wire.AttrConnections, l.Add(wire.AttrConnection, l.Add(wire.AttrPrimary, "h:1")))},
		{"connection primary bytes", application, l.Add(wire.AttrName, "A").Add(wire.AttrConnections, l.Add(wire.AttrConnection, l.Add(wire.AttrType, "TServer").Add(wire.AttrPrimary, []byte("h"))))},
		{"place without name", place, l.Add(wire.AttrDN, "1")},
		{"place DN list", place, l.Add(wire.AttrName, "P").Add(wire.AttrDN, l)},
		{"DN without number", dn, l.Add(wire.AttrSite, 1)},
		{"DN annex option list", dn, l.Add(wire.AttrNumber, "1").Add(wire.AttrAnnex, l.Add(wire.SectionTServer, l.Add(wire.OptPassword, l)))},
	} {
		if err := tc.decode(tc.obj); !errors.Is(err, ErrBadObject) {
			t.Errorf("%s: %v, want ErrBadObject", tc.name, err)
		}
	}
}

func person(l wire.KVList) error      { _, err := DecodePerson(l); return err }
func application(l wire.KVList) error { _, err := DecodeApplication(l); return err }
func place(l wire.KVList) error       { _, err := DecodePlace(l); return err }
func dn(l wire.KVList) error          { _, err := DecodeDN(l); return err }

func TestDecodeIgnoresUnknownAndKeepsFirst(t *testing.T) {
	l := wire.KVList{}.
		Add(wire.AttrUserName, "u").
		Add("Future", 42).
		Add(wire.AttrAnnex, wire.KVList{}.
			Add("agent-desktop", wire.KVList{}.Add("site-1", "first").Add("site-1", "second")).
			Add("agent-desktop", wire.KVList{}.Add("site-1", "other section")))
	p, err := DecodePerson(l)
	if err != nil {
		t.Fatal(err)
	}
	if s1, _ := p.PreferredSites(); s1 != "first" {
		t.Fatalf("site-1 %q, want the first value", s1)
	}
}

// BC-8: site-1 wins over its alias; the alias alone is the preferred site.
func TestPreferredSitesPrecedence(t *testing.T) {
	for _, tc := range []struct {
		annex     map[string]string
		want1, w2 string
	}{
		{map[string]string{wire.OptSite1: " A ", wire.OptSite2: "B", wire.OptPreferredSite: "C"}, "A", "B"},
		{map[string]string{wire.OptPreferredSite: "C"}, "C", ""},
		{map[string]string{wire.OptSite1: "", wire.OptPreferredSite: "C", wire.OptSite2: "A"}, "C", "A"},
		{nil, "", ""},
	} {
		p := Person{UserName: "u", Annex: Sections{wire.SectionAgentDesktop: tc.annex}}
		if s1, s2 := p.PreferredSites(); s1 != tc.want1 || s2 != tc.w2 {
			t.Errorf("annex %v: %q %q, want %q %q", tc.annex, s1, s2, tc.want1, tc.w2)
		}
	}
}

// BC-7 and BC-8: the timeouts' parsing; anything unusable is 0, disabled.
func TestTimeoutValues(t *testing.T) {
	for _, tc := range []struct {
		v    string
		want time.Duration
		bad  bool
	}{
		{"", 0, false}, {"0", 0, false}, {"30", 30 * time.Second, false}, {"\t7 ", 7 * time.Second, false},
		{"86400", 24 * time.Hour, false}, {"86401", 0, true}, {"-1", 0, true}, {"3s", 0, true},
		{"99999999999999999999", 0, true}, {"0x10", 0, true},
	} {
		a := Application{Name: "A", Options: Sections{wire.SectionAgentDesktop: {wire.OptSiteTimeout: tc.v}}}
		if got := a.SiteTimeout(); got != tc.want {
			t.Errorf("%q: %v, want %v", tc.v, got, tc.want)
		}
		if err := a.Check(); (err != nil) != tc.bad {
			t.Errorf("%q: Check() = %v", tc.v, err)
		}
		p := Person{UserName: "u", Annex: Sections{wire.SectionAgentDesktop: {wire.OptDRTimeout: tc.v}}}
		d, ok := p.SiteTimeout()
		if d != tc.want || ok != (!tc.bad && tc.v != "") {
			t.Errorf("person %q: %v %v", tc.v, d, ok)
		}
		if err := p.Check(); (err != nil) != tc.bad {
			t.Errorf("person %q: Check() = %v", tc.v, err)
		}
	}
}

// FuzzDecodeObject feeds frame payloads to the object decoders: they must
// never panic, and whatever they accept must survive the wire unchanged.
func FuzzDecodeObject(f *testing.F) {
	f.Fuzz(func(t *testing.T, payload []byte) {
		m, err := wire.DecodePayload(payload)
		if err != nil {
			return
		}
		obj := m.Attrs.List(wire.AttrObject)
		if p, err := DecodePerson(obj); err == nil {
			p.PreferredSites()
			if d, _ := p.SiteTimeout(); d < 0 || d > maxSeconds*time.Second {
				t.Fatalf("person timeout %v", d)
			}
			roundTrip(t, p, p.Object(), func(l wire.KVList) (any, error) { return DecodePerson(l) })
		}
		if a, err := DecodeApplication(obj); err == nil {
			for _, d := range []time.Duration{a.SiteTimeout(), a.SIPRegisterTimeout()} {
				if d < 0 || d > maxSeconds*time.Second {
					t.Fatalf("application timeout %v", d)
				}
			}
			roundTrip(t, a, a.Object(), func(l wire.KVList) (any, error) { return DecodeApplication(l) })
		}
		if p, err := DecodePlace(obj); err == nil {
			roundTrip(t, p, p.Object(), func(l wire.KVList) (any, error) { return DecodePlace(l) })
		}
		if d, err := DecodeDN(obj); err == nil {
			roundTrip(t, d, d.Object(), func(l wire.KVList) (any, error) { return DecodeDN(l) })
		}
	})
}

func roundTrip(t *testing.T, v any, obj wire.KVList, decode func(wire.KVList) (any, error)) {
	t.Helper()
	b, err := wire.Append(nil, wire.Message{Name: wire.EventObjectRead, Attrs: wire.KVList{}.Add(wire.AttrObject, obj)})
	if errors.Is(err, wire.ErrTooLarge) {
		return
	}
	if err != nil {
		t.Fatalf("re-encode %+v: %v", v, err)
	}
	m, err := wire.Decode(b)
	if err != nil {
		t.Fatalf("decode re-encoded: %v", err)
	}
	got, err := decode(m.Attrs.List(wire.AttrObject))
	if err != nil || !reflect.DeepEqual(got, v) {
		t.Fatalf("round trip: %+v (%v), want %+v", got, err, v)
	}
}
