package sitesim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/tandem-softphone/tandem/sitesim/directory"
	"github.com/tandem-softphone/tandem/sitesim/sipcall"
)

// Options configure a Sim. The zero Options run the demo on its default ports.
type Options struct {
	// Dir is the configuration database of both sites (default Demo()).
	Dir *directory.Directory
	// Applications are the sites' application objects in Dir (default
	// DemoAppSite1, DemoAppSite2).
	Applications [2]string
	// Sites are the addresses; an empty address takes its DefaultAddrs value.
	Sites [2]SiteAddrs
	// ControlAddr is the control interface's address (default DefaultControlAddr).
	ControlAddr string
	// KeepAlive is the servers' ADDP timeout when a client asks for none (default 30 s).
	KeepAlive time.Duration
	// AllowLoginOutOfService lets agents log in at a DN whose phone is not
	// registered at that site (by default refused, as SIP Server does).
	AllowLoginOutOfService bool
	// UAAddr is the UDP address of the simulated user agent (customers and
	// test numbers; default 127.0.0.1:0: only the sites need to reach it).
	UAAddr string
	// StatInterval is how often the Stat Servers poll their values (default 1 s).
	StatInterval time.Duration
	// SIPMinExpires is the shortest registration the registrars accept
	// (default 1 s).
	SIPMinExpires time.Duration
	// EventLogSize bounds the event log (default 10000 events).
	EventLogSize int
	// Now stamps the event log (default time.Now).
	Now    func() time.Time
	Logger *slog.Logger
}

func (o *Options) defaults() {
	if o.Dir == nil {
		o.Dir = Demo()
	}
	if o.Applications[0] == "" {
		o.Applications[0] = DemoAppSite1
	}
	if o.Applications[1] == "" {
		o.Applications[1] = DemoAppSite2
	}
	def := DefaultAddrs()
	for i := range o.Sites {
		s, d := &o.Sites[i], def[i]
		for _, p := range []struct{ v, d *string }{
			{&s.ConfigPrimary, &d.ConfigPrimary}, {&s.ConfigBackup, &d.ConfigBackup},
			{&s.TServerPrimary, &d.TServerPrimary}, {&s.TServerBackup, &d.TServerBackup},
			{&s.StatPrimary, &d.StatPrimary}, {&s.StatBackup, &d.StatBackup},
			{&s.SIP, &d.SIP},
		} {
			if *p.v == "" {
				*p.v = *p.d
			}
		}
	}
	if o.ControlAddr == "" {
		o.ControlAddr = DefaultControlAddr
	}
	if o.UAAddr == "" {
		o.UAAddr = "127.0.0.1:0"
	}
	if o.EventLogSize <= 0 {
		o.EventLogSize = 10000
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// Sim is the two-site simulator.
type Sim struct {
	opts  Options
	log   *slog.Logger
	sites [2]*Site
	ua    *sipcall.UA
	elog  *eventLog

	http    *http.Server
	ctlAddr string
	served  chan struct{}

	closeOnce sync.Once
	done      chan struct{}
}

// New prepares a simulator; Start runs it.
func New(opts Options) *Sim {
	opts.defaults()
	return &Sim{
		opts: opts,
		log:  opts.Logger,
		elog: newEventLog(opts.EventLogSize, opts.Now),
		done: make(chan struct{}),
	}
}

// Start starts both sites and the control interface. When ctx ends the
// simulator closes itself.
func (s *Sim) Start(ctx context.Context) error {
	board := newSwitchboard(s.opts.Dir, s.log)
	uaAddr, err := loopbackAddr(s.opts.UAAddr)
	if err != nil {
		return fmt.Errorf("user agent: %w", err)
	}
	if s.ua, err = sipcall.New(sipcall.Options{Addr: uaAddr, Logger: s.log}); err != nil {
		return err
	}
	board.setUA(s.ua)
	for i := range s.sites {
		site, err := StartSite(ctx, SiteOptions{
			Site:                   i + 1,
			Application:            s.opts.Applications[i],
			Dir:                    s.opts.Dir,
			Addrs:                  s.opts.Sites[i],
			KeepAlive:              s.opts.KeepAlive,
			AllowLoginOutOfService: s.opts.AllowLoginOutOfService,
			StatInterval:           s.opts.StatInterval,
			SIPMinExpires:          s.opts.SIPMinExpires,
			OnEvent:                s.elog.add,
			Logger:                 s.log,
			board:                  board,
		})
		if err != nil {
			s.Close()
			return err
		}
		s.sites[i] = site
	}
	addr, err := loopbackAddr(s.opts.ControlAddr)
	if err != nil {
		s.Close()
		return fmt.Errorf("control interface: %w", err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		s.Close()
		return fmt.Errorf("control interface: %w", err)
	}
	s.ctlAddr = ln.Addr().String()
	s.http = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	s.served = make(chan struct{})
	go func() {
		defer close(s.served)
		if err := s.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("control interface stopped", "err", err)
		}
	}()
	go func() {
		select {
		case <-ctx.Done():
			s.Close()
		case <-s.done:
		}
	}()
	s.log.Info("simulator ready", "control", s.ctlAddr)
	return nil
}

// Close stops the control interface and both sites. It is safe to call more
// than once.
func (s *Sim) Close() error {
	s.closeOnce.Do(func() {
		close(s.done)
		// Followers of /events end first, so that Shutdown finds idle connections.
		s.elog.close()
		if s.http != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			if err := s.http.Shutdown(ctx); err != nil {
				s.http.Close()
			}
			cancel()
			<-s.served
		}
		// The user agent first: its calls hang up through the sites.
		if s.ua != nil {
			s.ua.Close()
		}
		for _, site := range s.sites {
			if site != nil {
				site.Close()
			}
		}
	})
	return nil
}

// Dir is the simulator's configuration database.
func (s *Sim) Dir() *directory.Directory { return s.opts.Dir }

// ControlAddr is the control interface's bound address.
func (s *Sim) ControlAddr() string { return s.ctlAddr }

// Site returns site 1 or 2.
func (s *Sim) Site(n int) (*Site, error) {
	if n != 1 && n != 2 || s.sites[n-1] == nil {
		return nil, invalidf("site %d: must be 1 or 2", n)
	}
	return s.sites[n-1], nil
}

// SetMessages sets the voice messages waiting in a DN's mailbox at the
// site(s) that have the DN; their subscribers are notified (RFC 3842).
func (s *Sim) SetMessages(dn string, newMsgs, oldMsgs int) error {
	if dn == "" {
		return invalidf("dn is required")
	}
	found := false
	for _, site := range s.sites {
		if site == nil {
			continue
		}
		err := site.SetMessages(dn, newMsgs, oldMsgs)
		switch {
		case err == nil:
			found = true
		case !errors.Is(err, ErrNotFound):
			return err
		}
	}
	if !found {
		return notFoundf("no DN %s at either site", dn)
	}
	return nil
}

// Events returns the logged events after seq and the Seq of the oldest one
// kept (older ones were dropped from the bounded log).
func (s *Sim) Events(seq uint64) (entries []LogEntry, oldest uint64) {
	entries, oldest, _, _ = s.elog.since(seq)
	return entries, oldest
}

// Status is the whole simulator's state.
type Status struct {
	Control   string       `json:"control"`
	UA        string       `json:"ua"`         // the simulated user agent's SIP address (UDP)
	LastEvent uint64       `json:"last_event"` // the Seq of the newest logged event
	Sites     []SiteStatus `json:"sites"`
}

// Status returns the state of both sites.
func (s *Sim) Status() Status {
	st := Status{Control: s.ctlAddr, LastEvent: s.elog.last()}
	if s.ua != nil {
		st.UA = s.ua.Addr().String()
	}
	for _, site := range s.sites {
		if site != nil {
			st.Sites = append(st.Sites, site.Status())
		}
	}
	return st
}
