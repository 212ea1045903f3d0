// Package registrar is the SIP registrar of one simulated Business Continuity
// site. It authenticates REGISTER with digest (MD5 and SHA-256), keeps and
// expires bindings, and reports when a DN becomes registered or not, so that
// the site simulator can drive the DN's T-Server state (BC-18). It can be
// made to fail like a dead SIP Server: closed sockets or silence.
package registrar

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// Options configure a Registrar. Zero values take the defaults noted.
type Options struct {
	// Realm is the digest realm (and the site's SIP domain). Default "sitesim".
	// The host part of the AOR is not checked: loopback labs register to
	// IP addresses.
	Realm string
	// Password returns the password of a user, the DN of the AOR. Required.
	Password func(user string) (string, bool)
	// UDPAddr and TCPAddr are host:port to listen on; ":0" picks a port and an
	// empty host means 127.0.0.1. An empty address disables that transport;
	// at least one is required.
	UDPAddr string
	TCPAddr string
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Expiry bounds, whole seconds. Defaults: 60 s, 3600 s, 7200 s.
	// A requested interval below MinExpires gets 423, above MaxExpires is
	// cut to it; DefaultExpires applies when the request names none.
	MinExpires     time.Duration
	DefaultExpires time.Duration
	MaxExpires     time.Duration
	// NonceTTL is how long a nonce stays fresh. Default 5 minutes.
	NonceTTL time.Duration
	// Algorithms are the digest algorithms offered, most preferred first.
	// Default SHA-256 then MD5. Many clients (sipgo among them) answer only
	// the first challenge.
	Algorithms []string
	// OnChange is told when a DN becomes registered or stops being so. It is
	// called from one goroutine, in order, with no lock held.
	OnChange func(Change)
	// Clock defaults to the system clock.
	Clock Clock
	// Extend, when set, is called with every fresh sipgo stack the registrar
	// listens with (at Start, and again each time it leaves Closed), once its
	// sockets are bound and before it serves. A proxy on the registrar's
	// address adds its handlers to Stack.Server (REGISTER and OPTIONS stay
	// the registrar's) and sends from the registrar's sockets through
	// Stack.UA. The stack closes with its period of listening.
	Extend func(Stack)
}

// Stack is one sipgo stack the registrar serves on; see Options.Extend.
type Stack struct {
	UA      *sipgo.UserAgent
	Server  *sipgo.Server
	UDPAddr *net.UDPAddr // nil without UDP
	TCPAddr *net.TCPAddr // nil without TCP
	// Done is closed when the stack stops serving (Closed mode, Close).
	Done <-chan struct{}
}

// Mode is how a Registrar behaves towards the network.
type Mode int32

const (
	// Up serves requests.
	Up Mode = iota
	// Closed has no sockets: UDP peers get ICMP port unreachable, TCP peers
	// get connection refused, and open TCP connections are reset.
	Closed
	// Blackhole keeps the sockets but drops every request unanswered.
	Blackhole
)

func (m Mode) String() string {
	switch m {
	case Up:
		return "up"
	case Closed:
		return "closed"
	case Blackhole:
		return "blackhole"
	}
	return fmt.Sprintf("Mode(%d)", int32(m))
}

// Registrar is a SIP registrar. Create it with New, then Start it.
type Registrar struct {
	opts     Options
	log      *slog.Logger
	clock    Clock
	nonceKey []byte
	notifier *notifier

	// mode is read on every received packet by the transport read filter.
	mode atomic.Int32

	lifeMu  sync.Mutex // serialises Start, SetMode and Close
	started bool
	stopped bool
	udpAddr *net.UDPAddr
	tcpAddr *net.TCPAddr
	serving *serving // nil while Closed
	done    chan struct{}

	mu     sync.Mutex // guards the bindings
	aors   map[string][]*contact
	closed bool
}

// New checks opts and returns a Registrar that is not yet listening.
func New(opts Options) (*Registrar, error) {
	if opts.Password == nil {
		return nil, errors.New("registrar: Password lookup is required")
	}
	if opts.UDPAddr == "" && opts.TCPAddr == "" {
		return nil, errors.New("registrar: a UDP or TCP address is required")
	}
	if opts.Realm == "" {
		opts.Realm = "sitesim"
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Clock == nil {
		opts.Clock = realClock{}
	}
	opts.MinExpires = orDefault(opts.MinExpires, 60*time.Second)
	opts.DefaultExpires = orDefault(opts.DefaultExpires, 3600*time.Second)
	opts.MaxExpires = orDefault(opts.MaxExpires, 7200*time.Second)
	opts.NonceTTL = orDefault(opts.NonceTTL, 5*time.Minute)
	for _, d := range []time.Duration{opts.MinExpires, opts.DefaultExpires, opts.MaxExpires} {
		if d < time.Second || d%time.Second != 0 {
			return nil, fmt.Errorf("registrar: expiry %v is not a whole number of seconds ≥ 1 s", d)
		}
	}
	if opts.MinExpires > opts.DefaultExpires || opts.DefaultExpires > opts.MaxExpires {
		return nil, fmt.Errorf("registrar: need MinExpires ≤ DefaultExpires ≤ MaxExpires, got %v, %v, %v",
			opts.MinExpires, opts.DefaultExpires, opts.MaxExpires)
	}
	if len(opts.Algorithms) == 0 {
		opts.Algorithms = []string{AlgorithmSHA256, AlgorithmMD5}
	}
	algs := make([]string, len(opts.Algorithms))
	for i, a := range opts.Algorithms {
		switch strings.ToUpper(a) {
		case AlgorithmSHA256, AlgorithmMD5:
			algs[i] = strings.ToUpper(a)
		default:
			return nil, fmt.Errorf("registrar: unsupported digest algorithm %q", a)
		}
	}
	opts.Algorithms = algs
	var err error
	if opts.UDPAddr, err = defaultHost(opts.UDPAddr); err != nil {
		return nil, fmt.Errorf("registrar: UDP address: %w", err)
	}
	if opts.TCPAddr, err = defaultHost(opts.TCPAddr); err != nil {
		return nil, fmt.Errorf("registrar: TCP address: %w", err)
	}

	key := make([]byte, 32)
	rand.Read(key) // never fails (crypto/rand since Go 1.24)
	r := &Registrar{
		opts:     opts,
		log:      opts.Logger.With("component", "registrar", "realm", opts.Realm),
		clock:    opts.Clock,
		nonceKey: key,
		notifier: newNotifier(opts.OnChange),
		done:     make(chan struct{}),
		aors:     make(map[string][]*contact),
	}
	r.mode.Store(int32(Closed))
	return r, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// defaultHost puts 127.0.0.1 in front of a ":port" address, so that ":0"
// never listens on every interface.
func defaultHost(addr string) (string, error) {
	if addr == "" {
		return "", nil
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", err
	}
	if host == "" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port), nil
}

// Start opens the sockets and serves in Up mode. When ctx ends the
// Registrar is closed.
func (r *Registrar) Start(ctx context.Context) error {
	r.lifeMu.Lock()
	defer r.lifeMu.Unlock()
	if r.started || r.stopped {
		return errors.New("registrar: already started")
	}
	s, err := r.listen(r.opts.UDPAddr, r.opts.TCPAddr)
	if err != nil {
		return err
	}
	r.started = true
	r.serving = s
	if s.udp != nil {
		r.udpAddr = s.udp.LocalAddr().(*net.UDPAddr)
	}
	if s.tcp != nil {
		r.tcpAddr = s.tcp.Addr().(*net.TCPAddr)
	}
	r.mode.Store(int32(Up))
	go r.notifier.run()
	go func() {
		select {
		case <-ctx.Done():
			if err := r.Close(); err != nil {
				r.log.Warn("close on context end", "error", err)
			}
		case <-r.done:
		}
	}()
	r.log.Info("registrar listening", "udp", r.udpAddr, "tcp", r.tcpAddr)
	return nil
}

// UDPAddr is the bound UDP address, nil before Start or without UDP.
func (r *Registrar) UDPAddr() *net.UDPAddr {
	r.lifeMu.Lock()
	defer r.lifeMu.Unlock()
	return r.udpAddr
}

// TCPAddr is the bound TCP address, nil before Start or without TCP.
func (r *Registrar) TCPAddr() *net.TCPAddr {
	r.lifeMu.Lock()
	defer r.lifeMu.Unlock()
	return r.tcpAddr
}

// Mode returns the current mode.
func (r *Registrar) Mode() Mode { return Mode(r.mode.Load()) }

// SetMode switches between Up, Closed and Blackhole. Leaving Closed reopens
// the sockets on the addresses bound at Start. Bindings and their expiry
// timers are kept in every mode: a registrar that cannot be reached lets its
// registrations expire, which is what BC-18 reacts to.
func (r *Registrar) SetMode(m Mode) error {
	r.lifeMu.Lock()
	defer r.lifeMu.Unlock()
	if !r.started || r.stopped {
		return errors.New("registrar: set mode: not running")
	}
	switch m {
	case Up, Blackhole:
		// Store first so that a reopened socket never answers in Blackhole.
		r.mode.Store(int32(m))
		if r.serving == nil {
			var udp, tcp string
			if r.udpAddr != nil {
				udp = r.udpAddr.String()
			}
			if r.tcpAddr != nil {
				tcp = r.tcpAddr.String()
			}
			s, err := r.listen(udp, tcp)
			if err != nil {
				r.mode.Store(int32(Closed))
				return fmt.Errorf("registrar: reopen for %v: %w", m, err)
			}
			r.serving = s
		}
	case Closed:
		r.mode.Store(int32(Closed))
		if r.serving != nil {
			r.serving.close()
			r.serving = nil
		}
	default:
		return fmt.Errorf("registrar: unknown mode %v", m)
	}
	r.log.Info("registrar mode", "mode", m)
	return nil
}

// Close stops listening and stops the expiry timers. Changes already queued
// are delivered before it returns, so OnChange must not call Close.
func (r *Registrar) Close() error {
	r.lifeMu.Lock()
	defer r.lifeMu.Unlock()
	if r.stopped {
		return nil
	}
	r.stopped = true
	r.mode.Store(int32(Closed))
	if r.serving != nil {
		r.serving.close()
		r.serving = nil
	}
	r.stopTimers()
	if r.started {
		r.notifier.stop()
	}
	close(r.done)
	return nil
}

// serving is one period of listening: a fresh sipgo stack on our sockets,
// so that Closed leaves no transaction or connection state behind.
type serving struct {
	ua   *sipgo.UserAgent
	udp  net.PacketConn
	tcp  *connTracker
	wg   sync.WaitGroup
	done chan struct{} // closed by close
}

func (r *Registrar) listen(udpAddr, tcpAddr string) (*serving, error) {
	ua, err := sipgo.NewUA(
		sipgo.WithUserAgent("tandem-sitesim-registrar"),
		sipgo.WithUserAgentTransportLayerOptions(
			sip.WithTransportLayerLogger(r.log),
			sip.WithTransportLayerReadFilter(r.readFilter),
		),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(r.log)),
	)
	if err != nil {
		return nil, fmt.Errorf("registrar: user agent: %w", err)
	}
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(r.log))
	if err != nil {
		ua.Close()
		return nil, fmt.Errorf("registrar: server: %w", err)
	}
	s := &serving{ua: ua, done: make(chan struct{})}
	if udpAddr != "" {
		if s.udp, err = net.ListenPacket("udp", udpAddr); err != nil {
			s.close()
			return nil, fmt.Errorf("registrar: listen udp %s: %w", udpAddr, err)
		}
	}
	if tcpAddr != "" {
		l, err := net.Listen("tcp", tcpAddr)
		if err != nil {
			s.close()
			return nil, fmt.Errorf("registrar: listen tcp %s: %w", tcpAddr, err)
		}
		s.tcp = newConnTracker(l)
	}
	if r.opts.Extend != nil {
		st := Stack{UA: ua, Server: srv, Done: s.done}
		if s.udp != nil {
			st.UDPAddr = s.udp.LocalAddr().(*net.UDPAddr)
		}
		if s.tcp != nil {
			st.TCPAddr = s.tcp.Addr().(*net.TCPAddr)
		}
		r.opts.Extend(st)
	}
	// After Extend, so that these stay the registrar's; OPTIONS answers
	// with every method the stack takes.
	srv.OnRegister(r.onRegister)
	methods := append(srv.RegisteredMethods(), string(sip.OPTIONS))
	slices.Sort(methods)
	allow := strings.Join(slices.Compact(methods), ", ")
	srv.OnOptions(func(req *sip.Request, tx sip.ServerTransaction) { r.onOptions(req, tx, allow) })
	if s.udp != nil {
		s.wg.Go(func() {
			if err := srv.ServeUDP(s.udp); err != nil && !errors.Is(err, net.ErrClosed) {
				r.log.Warn("serve udp", "error", err)
			}
		})
	}
	if s.tcp != nil {
		s.wg.Go(func() {
			// ServeTCP always ends with the Accept error; closing is the normal end.
			if err := srv.ServeTCP(s.tcp); !errors.Is(err, net.ErrClosed) {
				r.log.Warn("serve tcp", "error", err)
			}
		})
	}
	if s.udp != nil {
		// What an extension sends over UDP leaves from this socket, which
		// sipgo knows once its serving goroutine has started: wait for it.
		addr := s.udp.LocalAddr().String()
		for deadline := time.Now().Add(5 * time.Second); ; {
			if c, err := ua.TransportLayer().GetConnection("udp", addr); err == nil {
				c.TryClose()
				break
			}
			if time.Now().After(deadline) {
				s.close()
				return nil, fmt.Errorf("registrar: udp %s not served within 5 s", addr)
			}
			time.Sleep(time.Millisecond)
		}
	}
	return s, nil
}

// close closes the sockets, resets the TCP connections and waits for the
// serving goroutines.
func (s *serving) close() {
	close(s.done)
	if s.tcp != nil {
		s.tcp.closeAll()
	}
	if s.udp != nil {
		s.udp.Close()
	}
	s.ua.Close()
	s.wg.Wait()
}

// readFilter drops every received packet in Blackhole mode, before sipgo
// parses it, so no transaction is created and nothing is ever sent back.
func (r *Registrar) readFilter(_ sip.TransportReadProps, data []byte) ([]byte, error) {
	if Mode(r.mode.Load()) == Blackhole {
		return nil, nil
	}
	return data, nil
}
