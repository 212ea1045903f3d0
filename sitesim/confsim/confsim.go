// Package confsim simulates one site's Config Server Proxy HA pair: two
// link.Servers, primary and backup, serving the same directory. It
// authenticates agents and answers RequestReadObject for persons,
// applications, places and the agent's own DNs (see docs/protocol-services.md).
package confsim

import (
	"crypto/subtle"
	"crypto/tls"
	"fmt"
	"log/slog"
	"sync"

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

	primary, backup *link.Server

	mu       sync.Mutex
	sessions map[*link.Conn]string // the authenticated user of each link
	wg       sync.WaitGroup
}

// New prepares a pair; Start listens.
func New(opts Options) *Pair {
	if opts.Link.Logger == nil {
		opts.Link.Logger = slog.Default()
	}
	if opts.Link.AppName == "" {
		opts.Link.AppName = fmt.Sprintf("ConfigServerProxy_site%d", opts.Site)
	}
	return &Pair{
		opts:     opts,
		log:      opts.Link.Logger.With("confsim", opts.Site),
		sessions: map[*link.Conn]string{},
	}
}

// Start listens on both addresses.
func (p *Pair) Start() error {
	lo := p.opts.Link
	lo.Handler = p.handle
	var err error
	p.primary, err = p.listen(p.opts.PrimaryAddr, lo, func() string { return "primary" })
	if err != nil {
		return fmt.Errorf("site %d config server primary: %w", p.opts.Site, err)
	}
	// The backup announces itself primary while the primary is down, as a
	// backup that took over does.
	p.backup, err = p.listen(p.opts.BackupAddr, lo, func() string {
		if p.primary.Mode() != link.Up {
			return "primary"
		}
		return "backup"
	})
	if err != nil {
		p.primary.Close()
		return fmt.Errorf("site %d config server backup: %w", p.opts.Site, err)
	}
	return nil
}

func (p *Pair) listen(addr string, lo link.Options, role func() string) (*link.Server, error) {
	return link.Listen(link.ServerOptions{
		Addr: addr,
		Link: lo,
		TLS:  p.opts.TLS,
		Info: func() wire.KVList { return wire.KVList{}.Add(wire.AttrServerRole, role()) },
		OnConn: func(c *link.Conn) {
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				<-c.Done()
				p.mu.Lock()
				delete(p.sessions, c)
				p.mu.Unlock()
			}()
		},
	})
}

// Close stops both servers.
func (p *Pair) Close() {
	for _, s := range []*link.Server{p.primary, p.backup} {
		if s != nil {
			s.Close()
		}
	}
	p.wg.Wait()
}

// Primary is the primary server, for fault injection with SetMode.
func (p *Pair) Primary() *link.Server { return p.primary }

// Backup is the backup server.
func (p *Pair) Backup() *link.Server { return p.backup }

// Addrs returns the bound addresses.
func (p *Pair) Addrs() (primary, backup string) { return p.primary.Addr(), p.backup.Addr() }

// handle runs on a link's read goroutine: every answer is a directory lookup
// and one write, so it does not block for long.
func (p *Pair) handle(c *link.Conn, m wire.Message) {
	var ans wire.Message
	switch m.Name {
	case wire.RequestAuthenticate:
		ans = p.authenticate(c, m)
	case wire.RequestReadObject:
		ans = p.readObject(c, m)
	default:
		ans = link.ErrorAnswer(m, wire.ErrCodeUnknownRequest, fmt.Sprintf("unknown request %s", m.Name))
	}
	if err := c.Send(ans); err != nil {
		p.log.Debug("answer not sent", "request", m.Name, "err", err)
	}
}

func (p *Pair) authenticate(c *link.Conn, m wire.Message) wire.Message {
	user := m.Attrs.String(wire.AttrUserName)
	app := m.Attrs.String(wire.AttrApplicationName)
	p.mu.Lock()
	delete(p.sessions, c) // a new attempt ends the previous session
	p.mu.Unlock()
	if _, ok := p.opts.Dir.Application(app); !ok {
		p.log.Info("authentication refused: unknown application", "user", user, "application", app)
		ans := link.ErrorAnswer(m, wire.ErrCodeAuthFailed, fmt.Sprintf("unknown application %q", app))
		ans.Attrs = ans.Attrs.Add(wire.AttrObjectType, confserv.ObjectTypeApplication).Add(wire.AttrObjectName, app)
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
	p.mu.Lock()
	p.sessions[c] = user
	p.mu.Unlock()
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

func (p *Pair) readObject(c *link.Conn, m wire.Message) wire.Message {
	p.mu.Lock()
	user, ok := p.sessions[c]
	p.mu.Unlock()
	if !ok {
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
	case confserv.ObjectTypePerson:
		person, ok := p.opts.Dir.Person(name)
		if !ok {
			return notFound
		}
		cp := basic(person)
		cp.Annex = sections(person.Annex)
		obj = cp.Object()
	case confserv.ObjectTypeApplication:
		a, ok := p.opts.Dir.Application(name)
		if !ok {
			return notFound
		}
		ca := confserv.Application{Name: a.Name, Site: a.Site, Options: sections(a.Options)}
		for _, cn := range a.Connections {
			ca.Connections = append(ca.Connections, confserv.Connection(cn))
		}
		obj = ca.Object()
	case confserv.ObjectTypePlace:
		pl, ok := p.opts.Dir.Place(name)
		if !ok {
			return notFound
		}
		obj = confserv.Place(pl).Object()
	case confserv.ObjectTypeDN:
		site := int64(p.opts.Site)
		if v, ok := m.Attrs.Get(confserv.AttrSite); ok {
			site, _ = v.(int64)
		}
		if site != 1 && site != 2 {
			return link.ErrorAnswer(m, wire.ErrCodeInvalidAttribute, "Site must be the int 1 or 2")
		}
		// Only the person's own DNs: the annex holds the SIP password. Any
		// other DN gets the same answer as one that does not exist.
		person, ok := p.opts.Dir.Person(user)
		if !ok || person.DNs[site-1] != name {
			return notFound
		}
		dn, ok := p.opts.Dir.DN(int(site), name)
		if !ok {
			return notFound
		}
		obj = confserv.DN{Number: dn.Number, Site: dn.Site, Annex: confserv.Sections{
			confserv.SectionTServer: {confserv.OptPassword: dn.SIPPassword},
		}}.Object()
	default:
		return link.ErrorAnswer(m, wire.ErrCodeInvalidAttribute, fmt.Sprintf("unknown ObjectType %q", typ))
	}
	return wire.Message{Name: wire.EventObjectRead, RefID: m.RefID, Attrs: wire.KVList{}.
		Add(wire.AttrObjectType, typ).
		Add(wire.AttrObject, obj)}
}
