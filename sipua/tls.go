package sipua

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net"
	"sync"
	"time"
)

// TLS in sipgo takes one tls.Config for every destination and, for an IP
// destination, verifies the certificate against that IP. Accounts need their
// own server name, so the endpoint dials TLS itself, verifies it per
// account, and hands the connection to sipgo's TLS transport through the
// listener sipgo serves, as if a peer had connected: sipgo then reads it and
// keeps it in its pool under the registrar's address, where requests to
// that address find it.

// dialTLS opens a verified TLS connection from localIP to addr (ip:port),
// expecting serverName in the certificate.
func dialTLS(ctx context.Context, localIP net.IP, addr, serverName string, roots *x509.CertPool) (net.Conn, error) {
	d := tls.Dialer{
		NetDialer: &net.Dialer{LocalAddr: &net.TCPAddr{IP: localIP}},
		Config: &tls.Config{
			ServerName: serverName,
			RootCAs:    roots,
			MinVersion: tls.VersionTLS12,
		},
	}
	return d.DialContext(ctx, "tcp", addr)
}

// certificateProblem returns why the peer's certificate failed
// verification, if that is what err is about.
func certificateProblem(err error) (string, bool) {
	var verr *tls.CertificateVerificationError
	if errors.As(err, &verr) {
		return verr.Err.Error(), true
	}
	return "", false
}

// selfSignedCertificate makes a certificate for ip, good for a year, for our
// TLS listener when the application gives none.
func selfSignedCertificate(ip net.IP, name string) (*tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{ip},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

// tlsListener is what sipgo's TLS transport serves: connections peers open
// to our TLS port, and connections we dialed and handed over with add.
type tlsListener struct {
	net.Listener // the real TLS listener

	accepted chan acceptResult
	dialed   chan handover
	closed   chan struct{}
	close    sync.Once

	// taken is the last handover returned by Accept; it is signalled when
	// sipgo calls Accept again, which it does only after pooling the
	// connection. Only sipgo's serving goroutine touches it.
	taken *handover
}

type acceptResult struct {
	conn net.Conn
	err  error
}

type handover struct {
	conn  net.Conn
	taken chan struct{}
}

func newTLSListener(l net.Listener) *tlsListener {
	tl := &tlsListener{
		Listener: l,
		accepted: make(chan acceptResult),
		dialed:   make(chan handover),
		closed:   make(chan struct{}),
	}
	go tl.acceptLoop()
	return tl
}

func (l *tlsListener) acceptLoop() {
	for {
		c, err := l.Listener.Accept()
		select {
		case l.accepted <- acceptResult{c, err}:
		case <-l.closed:
			if c != nil {
				c.Close()
			}
			return
		}
		if err != nil {
			return
		}
	}
}

// Accept returns the next connection, accepted or dialed.
func (l *tlsListener) Accept() (net.Conn, error) {
	if l.taken != nil {
		close(l.taken.taken)
		l.taken = nil
	}
	select {
	case r := <-l.accepted:
		return r.conn, r.err
	case h := <-l.dialed:
		l.taken = &h
		return h.conn, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

// add hands conn to sipgo and returns once sipgo has pooled it.
func (l *tlsListener) add(ctx context.Context, conn net.Conn) error {
	h := handover{conn: conn, taken: make(chan struct{})}
	select {
	case l.dialed <- h:
	case <-ctx.Done():
		conn.Close()
		return ctx.Err()
	case <-l.closed:
		conn.Close()
		return net.ErrClosed
	}
	select {
	case <-h.taken:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-l.closed:
		return net.ErrClosed
	}
}

func (l *tlsListener) Close() error {
	l.close.Do(func() { close(l.closed) })
	return l.Listener.Close()
}

// destination is where r's requests go. For TLS it first makes sure a
// connection verified for the account is in sipgo's pool, and names the
// registrar by the IP address sipgo pools that connection under.
func (e *Endpoint) destination(ctx context.Context, r *registration) (string, error) {
	if r.acct.Transport != TransportTLS {
		return r.acct.Registrar, nil
	}
	addr, err := resolve(ctx, r.acct.Registrar)
	if err != nil {
		return "", err
	}
	r.dialMu.Lock()
	defer r.dialMu.Unlock()
	if e.tlsPooled(addr) {
		return addr, nil
	}
	ctx, cancel := context.WithTimeout(ctx, e.opts.RequestTimeout)
	defer cancel()
	conn, err := dialTLS(ctx, e.localIP, addr, r.acct.TLSServerName, e.opts.TLSRootCAs)
	if err != nil {
		return "", err
	}
	if err := e.tlsLn.add(ctx, conn); err != nil {
		return "", err
	}
	return addr, nil
}

// tlsPooled reports whether sipgo holds a TLS connection to addr.
func (e *Endpoint) tlsPooled(addr string) bool {
	c := e.ua.TransportLayer().Pool(TransportTLS).Get(addr)
	if c == nil {
		return false
	}
	c.TryClose() // Get took a reference
	return true
}

// resolve turns host:port into ip:port, preferring IPv4 as sipgo does.
func resolve(ctx context.Context, hostport string) (string, error) {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return "", err
	}
	if net.ParseIP(host) != nil {
		return hostport, nil
	}
	ips, err := net.DefaultResolver.LookupIPAddr(ctx, host)
	if err != nil {
		return "", err
	}
	if len(ips) == 0 {
		return "", fmt.Errorf("no address for %s", host)
	}
	ip := ips[0].IP
	for _, a := range ips {
		if a.IP.To4() != nil {
			ip = a.IP
			break
		}
	}
	return net.JoinHostPort(ip.String(), port), nil
}
