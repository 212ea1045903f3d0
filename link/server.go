package link

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Mode is a server's fault-injection state, for the simulator and the tests.
type Mode int

// Server modes.
const (
	Up        Mode = iota
	Closed         // not listening: connects are refused, links are closed
	Blackhole      // listening and connected, but nothing is answered, not even keep-alive
)

func (m Mode) String() string {
	switch m {
	case Closed:
		return "closed"
	case Blackhole:
		return "blackhole"
	}
	return "up"
}

// ServerOptions configure a Server.
type ServerOptions struct {
	Addr string // host:port to listen on (":0" style ports allowed)
	Link Options
	// TLS, when set, makes the listener speak TLS.
	TLS  *tls.Config
	Info ServerInfo
	// OnConn is told of every new link after its handshake.
	OnConn func(*Conn)
}

// Server accepts links on one address. It can be closed and reopened on the
// same address, or blackholed, so that clients meet the failures they meet in
// production.
type Server struct {
	opts ServerOptions
	addr string
	mode atomic.Int32

	mu    sync.Mutex
	ln    net.Listener
	conns map[*Conn]struct{}
	held  map[net.Conn]struct{} // in handshake, or accepted while blackholed
	wg    sync.WaitGroup
}

// Listen starts a server.
func Listen(opts ServerOptions) (*Server, error) {
	opts.Link.defaults()
	s := &Server{opts: opts, addr: opts.Addr, conns: map[*Conn]struct{}{}, held: map[net.Conn]struct{}{}}
	s.opts.Link.drop = func() bool { return Mode(s.mode.Load()) == Blackhole }
	if err := s.listen(); err != nil {
		return nil, err
	}
	s.addr = s.ln.Addr().String()
	return s, nil
}

// Addr is the bound address (the port chosen, when ":0" was asked).
func (s *Server) Addr() string { return s.addr }

// Mode reports the current mode.
func (s *Server) Mode() Mode { return Mode(s.mode.Load()) }

func (s *Server) listen() error {
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", s.addr, err)
	}
	if s.opts.TLS != nil {
		ln = tls.NewListener(ln, s.opts.TLS)
	}
	s.mu.Lock()
	s.ln = ln
	s.mu.Unlock()
	s.wg.Add(1)
	go s.acceptLoop(ln)
	return nil
}

func (s *Server) acceptLoop(ln net.Listener) {
	defer s.wg.Done()
	for {
		nc, err := ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			return
		}
		s.wg.Add(1)
		go s.handshake(nc)
	}
}

func (s *Server) handshake(nc net.Conn) {
	defer s.wg.Done()
	// Held until the handshake ends, so that a shutdown also cuts handshakes
	// in progress; a blackholed server holds it until revived.
	s.mu.Lock()
	s.held[nc] = struct{}{}
	s.mu.Unlock()
	if s.Mode() == Blackhole {
		return
	}
	c, err := Accept(nc, s.opts.Link, s.opts.Info)
	s.mu.Lock()
	delete(s.held, nc)
	s.mu.Unlock()
	if err != nil {
		s.opts.Link.Logger.Warn("handshake refused", "peer", nc.RemoteAddr().String(), "err", err)
		nc.Close()
		return
	}
	s.mu.Lock()
	if s.ln == nil {
		s.mu.Unlock()
		c.Close()
		return
	}
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	if s.opts.OnConn != nil {
		s.opts.OnConn(c)
	}
	<-c.Done()
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// Conns returns the live links.
func (s *Server) Conns() []*Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*Conn, 0, len(s.conns))
	for c := range s.conns {
		out = append(out, c)
	}
	return out
}

// SetMode moves the server to another mode. Closed closes the listener and
// every link; Up listens again on the same address.
func (s *Server) SetMode(m Mode) error {
	old := Mode(s.mode.Swap(int32(m)))
	if old == m {
		return nil
	}
	if old == Blackhole {
		s.dropHeld()
	}
	switch {
	case m == Closed:
		s.shutdown()
	case old == Closed:
		return s.listen()
	}
	return nil
}

func (s *Server) dropHeld() {
	s.mu.Lock()
	held := s.held
	s.held = map[net.Conn]struct{}{}
	s.mu.Unlock()
	for nc := range held {
		nc.Close()
	}
}

func (s *Server) shutdown() {
	s.mu.Lock()
	ln := s.ln
	s.ln = nil
	conns := s.conns
	s.conns = map[*Conn]struct{}{}
	s.mu.Unlock()
	if ln != nil {
		ln.Close()
	}
	for c := range conns {
		c.Close()
	}
	s.dropHeld()
}

// Close stops the server for good and waits for its goroutines.
func (s *Server) Close() error {
	s.mode.Store(int32(Closed))
	s.shutdown()
	s.wg.Wait()
	return nil
}
