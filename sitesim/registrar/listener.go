package registrar

import (
	"net"
	"sync"
)

// connTracker is a TCP listener that remembers the connections it accepted,
// so that Closed mode can reset them: a peer then sees the site die at once
// instead of a quiet FIN it may read as a normal close.
type connTracker struct {
	net.Listener

	mu     sync.Mutex
	conns  map[*net.TCPConn]struct{}
	closed bool
}

func newConnTracker(l net.Listener) *connTracker {
	return &connTracker{Listener: l, conns: make(map[*net.TCPConn]struct{})}
}

func (l *connTracker) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return c, nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		reset(tc)
		return nil, net.ErrClosed
	}
	l.conns[tc] = struct{}{}
	return &trackedConn{TCPConn: tc, owner: l}, nil
}

// closeAll closes the listener and resets every accepted connection.
func (l *connTracker) closeAll() {
	l.mu.Lock()
	l.closed = true
	conns := l.conns
	l.conns = nil
	l.mu.Unlock()
	l.Listener.Close()
	for c := range conns {
		reset(c)
	}
}

func (l *connTracker) forget(c *net.TCPConn) {
	l.mu.Lock()
	delete(l.conns, c)
	l.mu.Unlock()
}

// reset closes c with an RST (SO_LINGER 0), which also leaves no TIME_WAIT
// behind to hold the port.
func reset(c *net.TCPConn) {
	c.SetLinger(0)
	c.Close()
}

type trackedConn struct {
	*net.TCPConn
	owner *connTracker
}

func (c *trackedConn) Close() error {
	c.owner.forget(c.TCPConn)
	return c.TCPConn.Close()
}
