// Package directory is the simulator's configuration database: persons,
// desktop application objects, places and DNs of both sites, as a replicated
// Configuration Server presents them.
package directory

import (
	"fmt"
	"sort"
	"sync"
)

// The typical values of the agent-desktop timeouts (BC-7), in seconds.
const (
	DefaultSiteTimeout   = 30
	DefaultSIPRegTimeout = 30
)

// Options is the sections → keys → values form of T-Lib's options and annexes.
type Options map[string]map[string]string

// Clone returns a deep copy.
func (o Options) Clone() Options {
	c := make(Options, len(o))
	for s, kv := range o {
		m := make(map[string]string, len(kv))
		for k, v := range kv {
			m[k] = v
		}
		c[s] = m
	}
	return c
}

// Person is an agent as the Config Server knows it.
type Person struct {
	UserName  string
	Password  string // the Config Server login password
	AgentID   string // the agent login id used with RequestAgentLogin
	FirstName string
	LastName  string
	Annex     Options // wire.SectionAgentDesktop: wire.OptSite1, wire.OptSite2 (BC-8)
	// Per site (index 0 = site 1): the Place and the DN (BC-3).
	Places [2]string
	DNs    [2]string
}

// Connection is one entry of an Application's connections: a service's HA
// pair (for the SIP registrar, one address with its transports).
type Connection struct {
	Type      string // wire.ConnTypeTServer, wire.ConnTypeStatServer, wire.ConnTypeConfigServer, wire.ConnTypeSIPRegistrar
	Primary   string // host:port
	Backup    string // host:port, may be empty
	Transport string // SIP registrar only: "udp,tcp"
}

// Application is a site's desktop application object (BC-7).
type Application struct {
	Name        string
	Site        int // 1 or 2
	Options     Options
	Connections []Connection
}

// Place ties a place name to its DN at one site.
type Place struct {
	Name string
	Site int
	DN   string
}

// DN is a directory number at one site, with its SIP password.
type DN struct {
	Number      string
	Site        int
	SIPPassword string
}

// Directory is the configuration database shared by both sites, as a
// replicated Configuration Server would present it.
type Directory struct {
	mu      sync.RWMutex
	persons map[string]*Person      // by UserName
	apps    map[string]*Application // by Name
	places  map[string]Place        // by Name
	dns     [2]map[string]DN        // by site, then number
}

// NewDirectory returns an empty directory.
func NewDirectory() *Directory {
	return &Directory{
		persons: map[string]*Person{},
		apps:    map[string]*Application{},
		places:  map[string]Place{},
		dns:     [2]map[string]DN{{}, {}},
	}
}

// AddPerson adds an agent, with its places and DNs at both sites.
func (d *Directory) AddPerson(p Person, sipPassword string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	cp := p
	cp.Annex = p.Annex.Clone()
	d.persons[p.UserName] = &cp
	for i := 0; i < 2; i++ {
		if p.DNs[i] == "" {
			continue
		}
		d.dns[i][p.DNs[i]] = DN{Number: p.DNs[i], Site: i + 1, SIPPassword: sipPassword}
		if p.Places[i] != "" {
			d.places[p.Places[i]] = Place{Name: p.Places[i], Site: i + 1, DN: p.DNs[i]}
		}
	}
}

// AddApplication adds or replaces an application object.
func (d *Directory) AddApplication(a Application) {
	d.mu.Lock()
	defer d.mu.Unlock()
	cp := a
	cp.Options = a.Options.Clone()
	cp.Connections = append([]Connection(nil), a.Connections...)
	d.apps[a.Name] = &cp
}

// SetConnections replaces an application's connections (the simulator fills
// them in once its servers have bound their ports).
func (d *Directory) SetConnections(app string, conns []Connection) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	a, ok := d.apps[app]
	if !ok {
		return fmt.Errorf("application %q: not found", app)
	}
	a.Connections = append([]Connection(nil), conns...)
	return nil
}

// SetOption sets one option of an application (empty value deletes it).
func (d *Directory) SetOption(app, section, key, value string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	a, ok := d.apps[app]
	if !ok {
		return fmt.Errorf("application %q: not found", app)
	}
	if a.Options == nil {
		a.Options = Options{}
	}
	if a.Options[section] == nil {
		a.Options[section] = map[string]string{}
	}
	if value == "" {
		delete(a.Options[section], key)
	} else {
		a.Options[section][key] = value
	}
	return nil
}

// Person returns a copy of the person with that user name.
func (d *Directory) Person(user string) (Person, bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	p, ok := d.persons[user]
	if !ok {
		return Person{}, false
	}
	cp := *p
	cp.Annex = p.Annex.Clone()
	return cp, true
}

// PersonByAgentID finds the person whose agent login id is id.
func (d *Directory) PersonByAgentID(id string) (Person, bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	for _, p := range d.persons {
		if p.AgentID == id {
			cp := *p
			cp.Annex = p.Annex.Clone()
			return cp, true
		}
	}
	return Person{}, false
}

// Persons lists all persons, sorted by user name.
func (d *Directory) Persons() []Person {
	d.mu.RLock()
	names := make([]string, 0, len(d.persons))
	for n := range d.persons {
		names = append(names, n)
	}
	d.mu.RUnlock()
	sort.Strings(names)
	out := make([]Person, 0, len(names))
	for _, n := range names {
		if p, ok := d.Person(n); ok {
			out = append(out, p)
		}
	}
	return out
}

// Application returns a copy of the application object.
func (d *Directory) Application(name string) (Application, bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	a, ok := d.apps[name]
	if !ok {
		return Application{}, false
	}
	cp := *a
	cp.Options = a.Options.Clone()
	cp.Connections = append([]Connection(nil), a.Connections...)
	return cp, true
}

// Place returns a place.
func (d *Directory) Place(name string) (Place, bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	p, ok := d.places[name]
	return p, ok
}

// DN returns a DN of a site (1 or 2).
func (d *Directory) DN(site int, number string) (DN, bool) {
	if site < 1 || site > 2 {
		return DN{}, false
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	dn, ok := d.dns[site-1][number]
	return dn, ok
}

// DNs lists the DNs of a site (1 or 2), sorted by number.
func (d *Directory) DNs(site int) []DN {
	if site < 1 || site > 2 {
		return nil
	}
	d.mu.RLock()
	out := make([]DN, 0, len(d.dns[site-1]))
	for _, dn := range d.dns[site-1] {
		out = append(out, dn)
	}
	d.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Number < out[j].Number })
	return out
}
