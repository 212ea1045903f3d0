package sipua

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
)

// Transports an Account can register over.
const (
	TransportUDP = "udp"
	TransportTCP = "tcp"
	TransportTLS = "tls"
)

// DefaultExpires is the registration interval asked for when an Account
// names none.
const DefaultExpires = 300 * time.Second

// Account is one registration: the agent's DN at one site's registrar.
type Account struct {
	// Site names the account, e.g. "site1"; it is unique within an Endpoint.
	Site string
	// Registrar is the registrar's host:port. Without a port the
	// transport's default (5060, or 5061 for TLS) is used.
	Registrar string
	// Transport is "udp" (default), "tcp" or "tls".
	Transport string
	// Domain is the SIP domain of the address of record and the digest
	// realm; it defaults to the registrar's host.
	Domain string
	// User is the DN, the user part of the address of record.
	User string
	// AuthUser is the digest user name; it defaults to User.
	AuthUser string
	// Password is the digest password. It is never logged.
	Password string
	// Expires is the registration interval asked for, in whole seconds;
	// default DefaultExpires. The registrar may grant less or more.
	Expires time.Duration
	// TLSServerName is the name the registrar's certificate must carry; it
	// defaults to the registrar's host.
	TLSServerName string
	// DirectCalls sends the INVITEs of calls straight to the host of the
	// called URI instead of through the registrar (the outbound proxy by
	// default): for registrars that do not route calls.
	DirectCalls bool
	// SRTP makes the account's calls offer SRTP (SDES, RFC 4568) and
	// refuse offers without it.
	SRTP bool
}

// LogValue keeps the password out of logs.
func (a Account) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("site", a.Site),
		slog.String("registrar", a.Registrar),
		slog.String("transport", a.Transport),
		slog.String("user", a.User),
	)
}

// normalize checks a and fills in its defaults.
func (a Account) normalize() (Account, error) {
	if a.Site == "" {
		return a, errors.New("account without a Site")
	}
	if a.User == "" {
		return a, fmt.Errorf("account %s: User (the DN) is required", a.Site)
	}
	a.Transport = strings.ToLower(a.Transport)
	switch a.Transport {
	case "":
		a.Transport = TransportUDP
	case TransportUDP, TransportTCP, TransportTLS:
	default:
		return a, fmt.Errorf("account %s: unknown transport %q", a.Site, a.Transport)
	}
	host, port, err := splitHostPort(a.Registrar, sip.DefaultPort(a.Transport))
	if err != nil {
		return a, fmt.Errorf("account %s: registrar %q: %w", a.Site, a.Registrar, err)
	}
	a.Registrar = net.JoinHostPort(host, strconv.Itoa(port))
	if a.Domain == "" {
		a.Domain = host
	}
	if a.AuthUser == "" {
		a.AuthUser = a.User
	}
	switch {
	case a.Expires == 0:
		a.Expires = DefaultExpires
	case a.Expires < time.Second:
		return a, fmt.Errorf("account %s: Expires %v is below one second", a.Site, a.Expires)
	}
	a.Expires = a.Expires.Truncate(time.Second)
	if a.TLSServerName == "" {
		a.TLSServerName = host
	}
	return a, nil
}

// splitHostPort splits "host:port", "host", "[v6]:port" or "[v6]" and
// supplies defPort when there is no port.
func splitHostPort(addr string, defPort int) (string, int, error) {
	if addr == "" {
		return "", 0, errors.New("empty address")
	}
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		// No port: a bare host, or a bracketed IPv6 address.
		host, portStr = strings.TrimSuffix(strings.TrimPrefix(addr, "["), "]"), ""
		if strings.ContainsAny(host, "[]") || (strings.Contains(host, ":") && net.ParseIP(host) == nil) {
			return "", 0, err
		}
	}
	if host == "" {
		return "", 0, errors.New("empty host")
	}
	if portStr == "" {
		return host, defPort, nil
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 1 || port > 65535 {
		return "", 0, fmt.Errorf("bad port %q", portStr)
	}
	return host, port, nil
}
