package confserv

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tandem-softphone/tandem/wire"
)

// ErrBadObject is wrapped by every error about an object whose attributes
// have the wrong kinds or lack a required one.
var ErrBadObject = errors.New("malformed configuration object")

// maxSeconds bounds the timeouts read from options: a larger value is
// reported as bad (a day-long switchover delay is a typing error).
const maxSeconds = 24 * 3600

// Sections are a configuration object's options or annex: sections of string
// options, as T-Lib's KVList of KVLists.
type Sections map[string]map[string]string

// Get returns one option.
func (s Sections) Get(section, key string) (string, bool) {
	v, ok := s[section][key]
	return v, ok
}

// list encodes the sections in sorted order, so that an object always has the same bytes.
func (s Sections) list() wire.KVList {
	l := make(wire.KVList, 0, len(s))
	for _, name := range slices.Sorted(maps.Keys(s)) {
		opts := s[name]
		sec := make(wire.KVList, 0, len(opts))
		for _, k := range slices.Sorted(maps.Keys(opts)) {
			sec = sec.Add(k, opts[k])
		}
		l = l.Add(name, sec)
	}
	return l
}

// Person is an agent's CfgPerson object. The server never sends the password.
type Person struct {
	UserName  string
	AgentID   string // the agent login id (the EmployeeID of Genesys)
	FirstName string
	LastName  string
	Annex     Sections
}

// PreferredSites returns the application names of the preferred site and of
// the other one, from the agent-desktop section of the annex: site-1 and
// site-2, or else the seed sample's disaster-recovery.preferred-site as site-1
// (BC-8). An empty name means the annex does not say.
func (p Person) PreferredSites() (site1, site2 string) {
	sec := p.Annex[wire.SectionAgentDesktop]
	site1 = strings.TrimSpace(sec[wire.OptSite1])
	if site1 == "" {
		site1 = strings.TrimSpace(sec[wire.OptPreferredSite])
	}
	return site1, strings.TrimSpace(sec[wire.OptSite2])
}

// SiteTimeout returns the person's disaster-recovery.timeout, the seed
// sample's alias of the application's site-timeout (BC-8). ok is false when
// the annex does not set it (or sets it empty) or sets a bad value (see
// Check); a set 0 is (0, true): disabled.
func (p Person) SiteTimeout() (d time.Duration, ok bool) {
	v := strings.TrimSpace(p.Annex[wire.SectionAgentDesktop][wire.OptDRTimeout])
	d, err := seconds(v)
	if v == "" || err != nil {
		return 0, false
	}
	return d, true
}

// Check reports the annex values that cannot be used.
func (p Person) Check() error {
	if v, ok := p.Annex.Get(wire.SectionAgentDesktop, wire.OptDRTimeout); ok {
		if _, err := seconds(v); err != nil {
			return fmt.Errorf("person %s: %s/%s: %w", p.UserName, wire.SectionAgentDesktop, wire.OptDRTimeout, err)
		}
	}
	return nil
}

// Object encodes the person as the Object of EventObjectRead; without the
// annex it is also the attribute list of EventAuthenticated.
func (p Person) Object() wire.KVList {
	l := wire.KVList{}.
		Add(wire.AttrUserName, p.UserName).
		Add(wire.AttrAgentID, p.AgentID).
		Add(wire.AttrFirstName, p.FirstName).
		Add(wire.AttrLastName, p.LastName)
	if len(p.Annex) > 0 {
		l = l.Add(wire.AttrAnnex, p.Annex.list())
	}
	return l
}

// DecodePerson decodes a CfgPerson object, or EventAuthenticated's attributes.
func DecodePerson(l wire.KVList) (Person, error) {
	r := objReader{what: wire.ObjectTypePerson}
	p := Person{
		UserName:  r.required(l, wire.AttrUserName),
		AgentID:   r.str(l, wire.AttrAgentID),
		FirstName: r.str(l, wire.AttrFirstName),
		LastName:  r.str(l, wire.AttrLastName),
		Annex:     r.sections(l, wire.AttrAnnex),
	}
	return p, r.err
}

// Connection is one entry of an application's connections: a service's HA
// pair, or the SIP registrar's address with its transports.
type Connection struct {
	Type      string // wire.ConnTypeTServer, wire.ConnTypeStatServer, …
	Primary   string // host:port
	Backup    string // host:port, may be empty
	Transport string // SIP registrar: "udp,tcp"
}

// Application is a site's desktop application object (BC-7).
type Application struct {
	Name        string
	Site        int // 1 or 2; 0 when the server does not say
	Options     Sections
	Connections []Connection
}

// Connection returns the first connection of that type.
func (a Application) Connection(typ string) (Connection, bool) {
	for _, c := range a.Connections {
		if c.Type == typ {
			return c, true
		}
	}
	return Connection{}, false
}

// SiteTimeout is agent-desktop/site-timeout: how long the telephony service
// may stay OFF before a switchover. 0 disables that switchover: the option is
// absent, empty, 0 or bad (BC-7; Check reports a bad value).
func (a Application) SiteTimeout() time.Duration {
	d, _ := seconds(a.Options[wire.SectionAgentDesktop][wire.OptSiteTimeout])
	return d
}

// SIPRegisterTimeout is agent-desktop/site-sip-register-timeout: how long to
// wait for EventDNBackInService after dr-force_logout before a switchover.
// 0 disables that switchover, as for SiteTimeout (BC-7).
func (a Application) SIPRegisterTimeout() time.Duration {
	d, _ := seconds(a.Options[wire.SectionAgentDesktop][wire.OptSIPRegisterTimeout])
	return d
}

// Check reports the option values that cannot be used (they count as 0).
func (a Application) Check() error {
	var errs []error
	for _, key := range []string{wire.OptSiteTimeout, wire.OptSIPRegisterTimeout} {
		if _, err := seconds(a.Options[wire.SectionAgentDesktop][key]); err != nil {
			errs = append(errs, fmt.Errorf("application %s: %s/%s: %w", a.Name, wire.SectionAgentDesktop, key, err))
		}
	}
	return errors.Join(errs...)
}

// Object encodes the application as the Object of EventObjectRead.
func (a Application) Object() wire.KVList {
	l := wire.KVList{}.Add(wire.AttrName, a.Name)
	if a.Site != 0 {
		l = l.Add(wire.AttrSite, a.Site)
	}
	if len(a.Options) > 0 {
		l = l.Add(wire.AttrOptions, a.Options.list())
	}
	if len(a.Connections) > 0 {
		conns := make(wire.KVList, 0, len(a.Connections))
		for _, c := range a.Connections {
			conns = conns.Add(wire.AttrConnection, wire.KVList{}.
				Add(wire.AttrType, c.Type).
				Add(wire.AttrPrimary, c.Primary).
				Add(wire.AttrBackup, c.Backup).
				Add(wire.AttrTransport, c.Transport))
		}
		l = l.Add(wire.AttrConnections, conns)
	}
	return l
}

// DecodeApplication decodes a CfgApplication object.
func DecodeApplication(l wire.KVList) (Application, error) {
	r := objReader{what: wire.ObjectTypeApplication}
	a := Application{
		Name:    r.required(l, wire.AttrName),
		Site:    r.site(l),
		Options: r.sections(l, wire.AttrOptions),
	}
	for i, p := range r.list(l, wire.AttrConnections) {
		entry, ok := p.Value.(wire.KVList)
		if !ok {
			r.fail("%s entry %d: a list expected, got %s", wire.AttrConnections, i, kindOf(p.Value))
			break
		}
		cr := objReader{what: fmt.Sprintf("%s: %s entry %d", wire.ObjectTypeApplication, wire.AttrConnections, i)}
		c := Connection{
			Type:      cr.required(entry, wire.AttrType),
			Primary:   cr.str(entry, wire.AttrPrimary),
			Backup:    cr.str(entry, wire.AttrBackup),
			Transport: cr.str(entry, wire.AttrTransport),
		}
		if cr.err != nil {
			r.err = cr.err
			break
		}
		a.Connections = append(a.Connections, c)
	}
	return a, r.err
}

// Place ties a place to its DN at one site (BC-3).
type Place struct {
	Name string
	Site int
	DN   string
}

// Object encodes the place as the Object of EventObjectRead.
func (p Place) Object() wire.KVList {
	l := wire.KVList{}.Add(wire.AttrName, p.Name).Add(wire.AttrDN, p.DN)
	if p.Site != 0 {
		l = l.Add(wire.AttrSite, p.Site)
	}
	return l
}

// DecodePlace decodes a CfgPlace object.
func DecodePlace(l wire.KVList) (Place, error) {
	r := objReader{what: wire.ObjectTypePlace}
	p := Place{Name: r.required(l, wire.AttrName), DN: r.str(l, wire.AttrDN), Site: r.site(l)}
	return p, r.err
}

// DN is a directory number at one site; its annex holds the SIP password.
type DN struct {
	Number string
	Site   int
	Annex  Sections
}

// Password is the DN's SIP password (annex TServer/password).
func (d DN) Password() string { return d.Annex[wire.SectionTServer][wire.OptPassword] }

// Object encodes the DN as the Object of EventObjectRead.
func (d DN) Object() wire.KVList {
	l := wire.KVList{}.Add(wire.AttrNumber, d.Number)
	if d.Site != 0 {
		l = l.Add(wire.AttrSite, d.Site)
	}
	if len(d.Annex) > 0 {
		l = l.Add(wire.AttrAnnex, d.Annex.list())
	}
	return l
}

// DecodeDN decodes a CfgDN object.
func DecodeDN(l wire.KVList) (DN, error) {
	r := objReader{what: wire.ObjectTypeDN}
	d := DN{Number: r.required(l, wire.AttrNumber), Site: r.site(l), Annex: r.sections(l, wire.AttrAnnex)}
	return d, r.err
}

// seconds parses an option holding whole seconds: "" is 0; a negative,
// fractional, non-numeric or absurd value is an error.
func seconds(v string) (time.Duration, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 || n > maxSeconds {
		return 0, fmt.Errorf("%q is not a number of seconds in 0..%d", v, maxSeconds)
	}
	return time.Duration(n) * time.Second, nil
}

// objReader reads an object's attributes, keeping the first error. Keys it
// does not know are ignored, so that servers can add attributes.
type objReader struct {
	what string
	err  error
}

func (r *objReader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%s: %w: %s", r.what, ErrBadObject, fmt.Sprintf(format, args...))
	}
}

func (r *objReader) str(l wire.KVList, key string) string {
	v, ok := l.Get(key)
	if !ok {
		return ""
	}
	s, ok := v.(string)
	if !ok {
		r.fail("%s: a string expected, got %s", key, kindOf(v))
	}
	return s
}

func (r *objReader) required(l wire.KVList, key string) string {
	s := r.str(l, key)
	if s == "" {
		r.fail("%s is missing", key)
	}
	return s
}

func (r *objReader) site(l wire.KVList) int {
	v, ok := l.Get(wire.AttrSite)
	if !ok {
		return 0
	}
	n, ok := v.(int64)
	if !ok || n < 1 || n > 2 {
		r.fail("%s: an int 1 or 2 expected", wire.AttrSite)
		return 0
	}
	return int(n)
}

func (r *objReader) list(l wire.KVList, key string) wire.KVList {
	v, ok := l.Get(key)
	if !ok {
		return nil
	}
	n, ok := v.(wire.KVList)
	if !ok {
		r.fail("%s: a list expected, got %s", key, kindOf(v))
	}
	return n
}

// sections decodes sections of string options. As everywhere in a KVList,
// the first of repeated keys wins. An absent or empty list gives nil.
func (r *objReader) sections(l wire.KVList, key string) Sections {
	secs := r.list(l, key)
	if len(secs) == 0 {
		return nil
	}
	out := make(Sections, len(secs))
	for _, sp := range secs {
		opts, ok := sp.Value.(wire.KVList)
		if !ok {
			r.fail("%s: section %q: a list expected, got %s", key, sp.Key, kindOf(sp.Value))
			return nil
		}
		if _, dup := out[sp.Key]; dup {
			continue
		}
		sec := make(map[string]string, len(opts))
		for _, op := range opts {
			s, ok := op.Value.(string)
			if !ok {
				r.fail("%s: %s/%s: a string expected, got %s", key, sp.Key, op.Key, kindOf(op.Value))
				return nil
			}
			if _, dup := sec[op.Key]; !dup {
				sec[op.Key] = s
			}
		}
		out[sp.Key] = sec
	}
	return out
}

func kindOf(v any) string {
	switch v.(type) {
	case int64:
		return wire.KindInt.String()
	case string:
		return wire.KindString.String()
	case []byte:
		return wire.KindBytes.String()
	case wire.KVList:
		return wire.KindList.String()
	}
	return fmt.Sprintf("%T", v)
}
