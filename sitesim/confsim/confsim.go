// Package confsim simulates one site's Config Server Proxy HA pair: a
// link.ServerPair (whose comment tells how the roles move) serving the
// directory. It authenticates agents and answers RequestReadObject for
// persons, applications, places and the agent's own DNs (see
// docs/protocol-services.md).
package confsim

import (
	"crypto/subtle"
	"crypto/tls"
	"fmt"
	"log/slog"

	"github.com/tandem-softphone/tandem/confserv"
	"github.com/tandem-softphone/tandem/link"
	"github.com/tandem-softphone/tandem/sitesim/directory"
	"github.com/tandem-softphone/tandem/wire"
)

// Options configure a Pair.
type Options struct {
	Dir         *directory.Directory
	Site        int    // 1 or 2: the site this pair serves; the default site of a CfgDN read
	PrimaryAddr string // host:port; ":0" ports allowed
	BackupAddr  string
	// Link configures both servers' links; Handler is set by the Pair.
	Link link.Options
	TLS  *tls.Config
}

// Pair is the simulated Config Server Proxy pair of one site.
type Pair struct {
	opts Options
	log  *slog.Logger
	pair *link.ServerPair[*session]
}

// session is a link's authentication. Only its link's read goroutine, which
// runs handle, touches it.
type session struct {
	user          string
	authenticated bool
}

// New prepares a pair; Start listens.
func New(opts Options) *Pair {
	if opts.Link.Logger == nil {
		opts.Link.Logger = slog.Default()
	}
	if opts.Link.AppName == "" {
		opts.Link.AppName = fmt.Sprintf("ConfigServerProxy_site%d", opts.Site)
	}
	return &Pair{opts: opts, log: opts.Link.Logger.With("confsim", opts.Site)}
}

// Start listens on both addresses.
func (p *Pair) Start() error {
	pair, err := link.ListenPair(link.PairOptions[*session]{
		PrimaryAddr: p.opts.PrimaryAddr,
		BackupAddr:  p.opts.BackupAddr,
		Link:        p.opts.Link,
		TLS:         p.opts.TLS,
		NewSession:  func(link.Member, *link.Conn) *session { return &session{} },
		Handle:      p.handle,
	})
	if err != nil {
		return fmt.Errorf("site %d config server: %w", p.opts.Site, err)
	}
	p.pair = pair
	return nil
}

// Close stops both servers.
func (p *Pair) Close() {
	if p.pair != nil {
		p.pair.Close()
	}
}

// SetMode injects a fault into a member, or ends it (see link.ServerPair).
func (p *Pair) SetMode(m link.Member, mode link.Mode) error { return p.pair.SetMode(m, mode) }

// Members reports both servers.
func (p *Pair) Members() []link.MemberStatus { return p.pair.Members() }

// Addrs returns the bound addresses.
func (p *Pair) Addrs() (primary, backup string) {
	return p.pair.Addr(link.Primary), p.pair.Addr(link.Backup)
}

// handle runs on a link's read goroutine: every answer is a directory lookup
// and one write, so it does not block for long.
func (p *Pair) handle(c *link.Conn, s *session, m wire.Message) {
	var ans wire.Message
	switch m.Name {
	case wire.RequestAuthenticate:
		ans = p.authenticate(s, m)
	case wire.RequestReadObject:
		ans = p.readObject(s, m)
	default:
		ans = link.ErrorAnswer(m, wire.ErrCodeUnknownRequest, fmt.Sprintf("unknown request %s", m.Name))
	}
	if err := c.Send(ans); err != nil {
		p.log.Debug("answer not sent", "request", m.Name, "err", err)
	}
}

func (p *Pair) authenticate(s *session, m wire.Message) wire.Message {
	user := m.Attrs.String(wire.AttrUserName)
	app := m.Attrs.String(wire.AttrApplicationName)
	*s = session{} // a new attempt ends the previous session
	if _, ok := p.opts.Dir.Application(app); !ok {
		p.log.Info("authentication refused: unknown application", "user", user, "application", app)
		ans := link.ErrorAnswer(m, wire.ErrCodeAuthFailed, fmt.Sprintf("unknown application %q", app))
		ans.Attrs = ans.Attrs.Add(wire.AttrObjectType, wire.ObjectTypeApplication).Add(wire.AttrObjectName, app)
		return ans
	}
	// Unknown user and wrong password get the same answer: the refusal does
	// not tell which user names exist.
	person, ok := p.opts.Dir.Person(user)
	pw := m.Attrs.String(wire.AttrPassword)
	if !ok || subtle.ConstantTimeCompare([]byte(pw), []byte(person.Password)) != 1 {
		p.log.Info("authentication refused: wrong user name or password", "user", user, "application", app)
		return link.ErrorAnswer(m, wire.ErrCodeAuthFailed, "wrong user name or password")
	}
	*s = session{user: user, authenticated: true}
	p.log.Info("authenticated", "user", user, "application", app)
	return wire.Message{Name: wire.EventAuthenticated, RefID: m.RefID, Attrs: basic(person).Object()}
}

func basic(p directory.Person) confserv.Person {
	return confserv.Person{UserName: p.UserName, AgentID: p.AgentID, FirstName: p.FirstName, LastName: p.LastName}
}

func sections(o directory.Options) confserv.Sections {
	if len(o) == 0 {
		return nil
	}
	return confserv.Sections(o.Clone())
}

func (p *Pair) readObject(s *session, m wire.Message) wire.Message {
	if !s.authenticated {
		return link.ErrorAnswer(m, wire.ErrCodeAuthFailed, "not authenticated: send RequestAuthenticate first")
	}
	typ := m.Attrs.String(wire.AttrObjectType)
	name := m.Attrs.String(wire.AttrObjectName)
	if name == "" {
		return link.ErrorAnswer(m, wire.ErrCodeInvalidAttribute, "ObjectName is missing")
	}
	notFound := link.ErrorAnswer(m, wire.ErrCodeNotFound, fmt.Sprintf("%s %q not found", typ, name))
	var obj wire.KVList
	switch typ {
	case wire.ObjectTypePerson:
		person, ok := p.opts.Dir.Person(name)
		if !ok {
			return notFound
		}
		cp := basic(person)
		cp.Annex = sections(person.Annex)
		obj = cp.Object()
	case wire.ObjectTypeApplication:
		a, ok := p.opts.Dir.Application(name)
		if !ok {
			return notFound
		}
		ca := confserv.Application{Name: a.Name, Site: a.Site, Options: sections(a.Options)}
		for _, cn := range a.Connections {
			ca.Connections = append(ca.Connections, confserv.Connection(cn))
		}
		obj = ca.Object()
	case wire.ObjectTypePlace:
		pl, ok := p.opts.Dir.Place(name)
		if !ok {
			return notFound
		}
		obj = confserv.Place(pl).Object()
	case wire.ObjectTypeDN:
		site := int64(p.opts.Site)
		if v, ok := m.Attrs.Get(wire.AttrSite); ok {
			site, _ = v.(int64)
		}
		if site != 1 && site != 2 {
			return link.ErrorAnswer(m, wire.ErrCodeInvalidAttribute, "Site must be the int 1 or 2")
		}
		// Only the person's own DNs: the annex holds the SIP password. Any
		// other DN gets the same answer as one that does not exist.
		person, ok := p.opts.Dir.Person(s.user)
		if !ok || person.DNs[site-1] != name {
			return notFound
		}
		dn, ok := p.opts.Dir.DN(int(site), name)
		if !ok {
			return notFound
		}
		obj = confserv.DN{Number: dn.Number, Site: dn.Site, Annex: confserv.Sections{
			wire.SectionTServer: {wire.OptPassword: dn.SIPPassword},
		}}.Object()
	default:
		return link.ErrorAnswer(m, wire.ErrCodeInvalidAttribute, fmt.Sprintf("unknown ObjectType %q", typ))
	}
	return wire.Message{Name: wire.EventObjectRead, RefID: m.RefID, Attrs: wire.KVList{}.
		Add(wire.AttrObjectType, typ).
		Add(wire.AttrObject, obj)}
}
