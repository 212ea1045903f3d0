package sipua

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/tandem-softphone/tandem/link"
)

// ErrUnknownSite is returned for a site no account is configured for.
var ErrUnknownSite = errors.New("sipua: no account for site")

// Endpoint is the embedded SIP endpoint: one user agent that registers all
// its accounts and answers incoming requests. Create it with New, then
// Start it; Close it when done.
type Endpoint struct {
	opts  Options
	log   *slog.Logger
	clock Clock
	regs  []*registration // in the order of Options.Accounts
	sites map[string]*registration

	// interfaceAddrs lists the machine's addresses for the network watch;
	// tests replace it before Start.
	interfaceAddrs func() ([]net.Addr, error)

	// Set by Start, read-only afterwards.
	ua       *sipgo.UserAgent
	client   *sipgo.Client
	server   *sipgo.Server
	allow    string // the Allow header: the methods we serve
	localIP  net.IP
	udpConn  net.PacketConn
	tcpLn    net.Listener
	tlsLn    *tlsListener // nil when no account uses TLS
	events   *link.Queue[Event]
	stop     context.CancelFunc
	loops    sync.WaitGroup // registration loops, probes, the watch
	serving  sync.WaitGroup // sipgo's Serve goroutines
	closed   chan struct{}
	lifeMu   sync.Mutex // serialises Start and Close
	started  bool
	stopping bool
	// closing is closed when Close begins: no new calls, and calls still
	// setting up give up.
	closing chan struct{}
	// abort is closed when Close has waited long enough for calls to end:
	// what still waits on the network gives up.
	abort chan struct{}
	live  atomic.Bool // started and not closing

	callsMu sync.Mutex
	calls   map[string]*Call    // by ID, until ended
	dialogs map[dialogKey]*Call // by Call-ID and our tag
	callWG  sync.WaitGroup      // goroutines of calls: INVITE, BYE, NOTIFY…; see goCall
	waiting bool                // Close waits for callWG: no more goroutines (callsMu)
	audioMu sync.Mutex
	audio   talker       // the call connected to the audio devices
	devices deviceChoice // the devices calls open (SetAudioDevices)

	subs subscriptions // ours, until ended (subscribe.go)
}

// New checks opts and returns an Endpoint that is not yet listening.
func New(opts Options) (*Endpoint, error) {
	opts, err := opts.normalize()
	if err != nil {
		return nil, fmt.Errorf("sipua: %w", err)
	}
	e := &Endpoint{
		opts:           opts,
		log:            opts.Logger.With("component", "sipua"),
		clock:          opts.Clock,
		sites:          make(map[string]*registration),
		interfaceAddrs: net.InterfaceAddrs,
		closed:         make(chan struct{}),
		closing:        make(chan struct{}),
		abort:          make(chan struct{}),
		calls:          make(map[string]*Call),
		dialogs:        make(map[dialogKey]*Call),
		devices:        deviceChoice{capture: opts.CaptureDevice, playback: opts.PlaybackDevice},
	}
	for _, a := range opts.Accounts {
		r := newRegistration(e, a)
		e.regs = append(e.regs, r)
		e.sites[a.Site] = r
	}
	return e, nil
}

// Start listens on UDP and TCP (and TLS when an account uses it) on
// LocalIP, then registers every account and keeps them registered. When
// ctx ends the Endpoint is closed.
func (e *Endpoint) Start(ctx context.Context) error {
	e.lifeMu.Lock()
	defer e.lifeMu.Unlock()
	if e.started || e.stopping {
		return errors.New("sipua: already started")
	}
	e.localIP = net.ParseIP(e.opts.LocalIP)
	if err := e.newStack(); err != nil {
		return err
	}
	if err := e.listen(); err != nil {
		e.closeStack()
		return err
	}
	e.started = true
	e.events = link.NewQueue(e.deliver)
	runCtx, stop := context.WithCancel(context.Background())
	e.stop = stop
	for _, r := range e.regs {
		r.setContact(e.contactFor(r.acct))
		e.loops.Go(func() { r.run(runCtx) })
		e.loops.Go(func() { r.probeLoop(runCtx) })
	}
	e.loops.Go(func() { e.watch(runCtx) })
	e.live.Store(true)
	go func() {
		select {
		case <-ctx.Done():
			if err := e.Close(); err != nil {
				e.log.Warn("close on context end", "error", err)
			}
		case <-e.closed:
		}
	}()
	e.log.Info("endpoint started", "udp", e.udpConn.LocalAddr(), "tcp", e.tcpLn.Addr(), "tls", e.tlsAddr())
	return nil
}

// newStack makes the sipgo user agent, server and client.
func (e *Endpoint) newStack() error {
	log := e.opts.Logger.With("component", "sipgo")
	ua, err := sipgo.NewUA(
		sipgo.WithUserAgent(e.opts.UserAgent),
		sipgo.WithUserAgentHostname(e.opts.LocalIP),
		// Only used if sipgo dials TLS itself (never for registrars, see
		// tls.go): plain verification against the destination's name.
		sipgo.WithUserAgenTLSConfig(&tls.Config{RootCAs: e.opts.TLSRootCAs, MinVersion: tls.VersionTLS12}),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(log)),
		sipgo.WithUserAgentTransactionLayerOptions(
			sip.WithTransactionLayerLogger(log),
			// A TCP or TLS connection that drops fails its transactions at
			// once instead of at their timeout.
			sip.WithTransactionLayerTerminateOnConnClose(),
			sip.WithTransactionLayerUnhandledResponseHandler(func(res *sip.Response) {
				e.log.Debug("response matches no transaction", "response", res.StartLine())
			}),
		),
	)
	if err != nil {
		return fmt.Errorf("sipua: user agent: %w", err)
	}
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(log))
	if err != nil {
		ua.Close()
		return fmt.Errorf("sipua: server: %w", err)
	}
	e.route(srv)
	client, err := sipgo.NewClient(ua,
		sipgo.WithClientLogger(log),
		sipgo.WithClientHostname(e.opts.LocalIP),
		sipgo.WithClientNAT(),
	)
	if err != nil {
		ua.Close()
		return fmt.Errorf("sipua: client: %w", err)
	}
	e.ua, e.server, e.client = ua, srv, client
	return nil
}

// listen opens the sockets and serves them with sipgo.
func (e *Endpoint) listen() error {
	port, tlsPort := e.opts.ListenPort, 0
	if port != 0 {
		tlsPort = port + 1
	}
	return e.listenOn(port, port, tlsPort)
}

// listenOn is listen on the given ports; Relaunch takes the ports it had.
func (e *Endpoint) listenOn(port, tcpPort, tlsPort int) error {
	udp, err := net.ListenPacket("udp", net.JoinHostPort(e.opts.LocalIP, strconv.Itoa(port)))
	if err != nil {
		return fmt.Errorf("sipua: listen udp: %w", err)
	}
	tcp, err := net.Listen("tcp", net.JoinHostPort(e.opts.LocalIP, strconv.Itoa(tcpPort)))
	if err != nil {
		udp.Close()
		return fmt.Errorf("sipua: listen tcp: %w", err)
	}
	var tlsLn *tlsListener
	if e.needsTLS() {
		cert := e.opts.TLSCertificate
		if cert == nil {
			if cert, err = selfSignedCertificate(e.localIP, e.opts.UserAgent); err != nil {
				udp.Close()
				tcp.Close()
				return fmt.Errorf("sipua: TLS certificate: %w", err)
			}
		}
		l, err := tls.Listen("tcp", net.JoinHostPort(e.opts.LocalIP, strconv.Itoa(tlsPort)),
			&tls.Config{Certificates: []tls.Certificate{*cert}, MinVersion: tls.VersionTLS12})
		if err != nil {
			udp.Close()
			tcp.Close()
			return fmt.Errorf("sipua: listen tls: %w", err)
		}
		tlsLn = newTLSListener(l)
	}
	e.tcpLn, e.tlsLn = tcp, tlsLn

	// Requests over UDP are sent from the listening socket (see
	// udpLocalAddr), which sipgo finds in its pool only once it serves it.
	ready := &readyPacketConn{PacketConn: udp, ready: make(chan struct{})}
	e.udpConn = ready
	e.serve("udp", func() error { return e.server.ServeUDP(ready) })
	e.serve("tcp", func() error { return e.server.ServeTCP(tcp) })
	if tlsLn != nil {
		e.serve("tls", func() error { return e.server.ServeTLS(tlsLn) })
	}
	<-ready.ready
	return nil
}

func (e *Endpoint) serve(network string, serve func() error) {
	e.serving.Go(func() {
		if err := serve(); err != nil && !errors.Is(err, net.ErrClosed) {
			e.log.Warn("serve", "network", network, "error", err)
		}
	})
}

func (e *Endpoint) needsTLS() bool {
	for _, a := range e.opts.Accounts {
		if a.Transport == TransportTLS {
			return true
		}
	}
	return false
}

func (e *Endpoint) tlsAddr() net.Addr {
	if e.tlsLn == nil {
		return nil
	}
	return e.tlsLn.Addr()
}

// readyPacketConn signals when sipgo first reads from it, which is after
// sipgo has put it in its connection pool.
type readyPacketConn struct {
	net.PacketConn
	once  sync.Once
	ready chan struct{}
}

func (c *readyPacketConn) ReadFrom(b []byte) (int, net.Addr, error) {
	c.once.Do(func() { close(c.ready) })
	return c.PacketConn.ReadFrom(b)
}

// contactFor is the Contact URI registered for a: our listening address for
// the account's transport, where the registrar will send incoming requests.
func (e *Endpoint) contactFor(a Account) sip.Uri {
	return e.contactOn(a.User, a.Transport)
}

// udpLocalAddr makes sipgo send a UDP request from our listening socket, so
// that the registrar sees the address it will send incoming requests to.
func (e *Endpoint) udpLocalAddr() sip.Addr {
	return sip.Addr{
		IP:   append(net.IP(nil), e.localIP...),
		Port: e.udpConn.LocalAddr().(*net.UDPAddr).Port,
	}
}

// Addr returns the local address of the listener for transport "udp",
// "tcp" or "tls"; nil before Start or for a transport not listened on.
func (e *Endpoint) Addr(transport string) net.Addr {
	e.lifeMu.Lock()
	defer e.lifeMu.Unlock()
	if !e.started {
		return nil
	}
	switch transport {
	case TransportUDP:
		return e.udpConn.LocalAddr()
	case TransportTCP:
		return e.tcpLn.Addr()
	case TransportTLS:
		return e.tlsAddr()
	}
	return nil
}

// Close hangs up every call and un-REGISTERs the accounts that are
// registered (each within Options.CloseTimeout), delivers the last events
// and stops listening. It is safe to call more than once.
func (e *Endpoint) Close() error {
	e.lifeMu.Lock()
	defer e.lifeMu.Unlock()
	if e.stopping {
		return nil
	}
	e.stopping = true
	e.live.Store(false)
	close(e.closing)
	if !e.started {
		close(e.closed)
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), e.opts.CloseTimeout)
	e.hangupAll(ctx)
	e.endSubscriptions(ctx)
	cancel()
	close(e.abort)
	e.callsMu.Lock()
	e.waiting = true
	e.callsMu.Unlock()
	e.callWG.Wait()

	e.stop()
	e.loops.Wait()

	ctx, cancel = context.WithTimeout(context.Background(), e.opts.CloseTimeout)
	var wg sync.WaitGroup
	for _, r := range e.regs {
		wg.Go(func() { r.unregister(ctx) })
	}
	wg.Wait()
	cancel()

	e.events.Close()
	e.closeStack()
	close(e.closed)
	e.log.Info("endpoint closed")
	return nil
}

// closeStack stops sipgo and the listeners and waits for the serving
// goroutines.
func (e *Endpoint) closeStack() {
	var errs []error
	if e.ua != nil {
		errs = append(errs, e.ua.Close())
	}
	if e.udpConn != nil {
		errs = append(errs, e.udpConn.Close())
	}
	if e.tcpLn != nil {
		errs = append(errs, e.tcpLn.Close())
	}
	if e.tlsLn != nil {
		errs = append(errs, e.tlsLn.Close())
	}
	e.serving.Wait()
	if err := errors.Join(errs...); err != nil {
		e.log.Debug("close", "error", err)
	}
}

// goCall runs f on a goroutine of the calls, which Close waits for. Once
// Close waits (every call has ended by then) f is not run, and goCall
// reports false.
func (e *Endpoint) goCall(f func()) bool {
	e.callsMu.Lock()
	defer e.callsMu.Unlock()
	if e.waiting {
		return false
	}
	e.callWG.Go(f)
	return true
}

// running reports whether the endpoint is started and not closing.
func (e *Endpoint) running() bool { return e.live.Load() }

// deliver hands an event to the application, on the queue's goroutine.
func (e *Endpoint) deliver(ev Event) {
	if e.opts.OnEvent != nil {
		e.opts.OnEvent(ev)
	}
}

// emit queues an event. Callers hold the lock that orders their changes.
func (e *Endpoint) emit(ev Event) {
	if e.events != nil {
		e.events.Put(ev)
	}
}

// Registrations returns every account's registration, in account order.
func (e *Endpoint) Registrations() []Registration {
	out := make([]Registration, len(e.regs))
	for i, r := range e.regs {
		out[i] = r.snapshot()
	}
	return out
}

// Registration returns the registration of site.
func (e *Endpoint) Registration(site string) (Registration, error) {
	r, err := e.site(site)
	if err != nil {
		return Registration{}, err
	}
	return r.snapshot(), nil
}

// ExpireRegistration stops refreshing site's registration, so that it
// expires at the registrar (the way testers trigger dr-force_logout); the
// account shows RegistrationExpired once its expiry has passed.
// ResumeRegistration or Reregister bring it back.
func (e *Endpoint) ExpireRegistration(site string) error {
	r, err := e.site(site)
	if err != nil {
		return err
	}
	r.pause()
	return nil
}

// ResumeRegistration refreshes site's registration again after
// ExpireRegistration: at once if it is no longer registered, otherwise when
// its refresh falls due.
func (e *Endpoint) ResumeRegistration(site string) error {
	r, err := e.site(site)
	if err != nil {
		return err
	}
	r.resume()
	return nil
}

// Reregister sends site's REGISTER at once, resetting its back-off; it also
// ends an ExpireRegistration.
func (e *Endpoint) Reregister(site string) error {
	r, err := e.site(site)
	if err != nil {
		return err
	}
	r.registerNow("asked", true)
	return nil
}

func (e *Endpoint) site(site string) (*registration, error) {
	r, ok := e.sites[site]
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownSite, site)
	}
	return r, nil
}

// do sends req and waits for its final response, at most timeout.
func (e *Endpoint) do(ctx context.Context, req *sip.Request, timeout time.Duration) (*sip.Response, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return e.client.Do(ctx, req)
}
