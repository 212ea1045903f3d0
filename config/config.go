// Package config holds Tandem's local, admin-provisioned configuration
// (SPEC BC-6): what the desktop needs to reach the Config Server Proxy of
// either site before it knows anything else.
//
// # Files and layers
//
// Load merges, lowest to highest: built-in defaults, the system-wide admin
// file, the user's file, the file named by --config, and command-line flags.
// A layer overrides only the keys it sets. The default file paths are given
// by DefaultPaths; a missing file at a default path is skipped, a missing file
// named explicitly is an error. In the directory of each default path, a
// bc.properties file (PropertiesName) is read just before tandem.toml.
//
// A file whose name ends in ".properties" is read as a Java properties file,
// anything else as TOML.
//
// # TOML layout
//
//	user = "SIP_5320"          # may be empty: the login dialog asks
//	hot_seating = false        # true: never cache the preferred site (BC-11)
//
//	[keepalive]                # ADDP-style keep-alive of T-Server links (BC-5)
//	local = "20s"              # Go duration string, or whole seconds (20)
//	remote = "30s"
//
//	[tls]                      # optional TLS on every site-service connection
//	enabled = false
//	ca_file = "ca.pem"         # relative to the file's directory
//	server_name = ""
//
//	[site1]                    # and [site2]
//	name = "Site A"
//	application = "AIL_Client" # required
//	place = "Place_5320"       # required
//	dn = "5320"
//	config_server = { primary = "cfg-a1:2020", backup = "cfg-a2:2030" } # primary required
//	tserver = { primary = "ts-a1:3000", backup = "ts-a2:3000" }
//	stat_server = { primary = "st-a1:3100" }
//
//	[site1.sip]
//	registrar = "sip-a:5060"
//	transport = "udp"          # udp, tcp or tls
//	domain = "a.example.com"
//	tls_server_name = ""
//	mailbox = ""               # voicemail box: "8500" or a SIP URI; empty: the DN's own
//
// Unknown keys are errors. A top-level "password" key is ignored with a
// warning: passwords are typed by the agent, never stored. Keep-alive
// timeouts must be more than 0 and at most an hour. A relative ca_file is
// taken from the file's directory (from the working directory for the flag)
// and made absolute.
//
// # Properties files
//
// The seed's bc.properties keys are accepted as they are: PrimaryHost1,
// PrimaryPort1, BackupHost1, BackupPort1, ApplicationName1, PlaceName1,
// UserName and UserPass (ignored with a warning when non-empty), and the
// same with 2. DN1 and DN2 set the sites' DNs, and every TOML key is also
// accepted in its dotted form (site1.sip.registrar = sip-a:5060). An empty
// value leaves the key unset.
//
// # Flags
//
// RegisterFlags adds --config and one flag per key: the dotted key with dots
// and underscores turned into dashes (--site1-config-server-primary,
// --keepalive-local, --hot-seating, --tls-ca-file, ...).
package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Endpoint is a host and a TCP/UDP port. The zero Endpoint means "not set".
type Endpoint struct {
	Host string
	Port int
}

// IsZero reports whether e is unset.
func (e Endpoint) IsZero() bool { return e.Host == "" && e.Port == 0 }

// String returns "host:port" ("[::1]:port" for IPv6), or "" for the zero
// Endpoint.
func (e Endpoint) String() string {
	if e.IsZero() {
		return ""
	}
	return net.JoinHostPort(e.Host, strconv.Itoa(e.Port))
}

// ParseEndpoint parses "host:port" or "[ipv6]:port".
func ParseEndpoint(s string) (Endpoint, error) {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		if strings.Count(s, ":") > 1 && !strings.HasPrefix(s, "[") {
			return Endpoint{}, fmt.Errorf("%q is not host:port (write IPv6 addresses as [::1]:5060)", s)
		}
		return Endpoint{}, fmt.Errorf("%q is not host:port", s)
	}
	if strings.HasPrefix(s, "[") && !strings.Contains(host, ":") {
		return Endpoint{}, fmt.Errorf("%q is not host:port: brackets are for IPv6 addresses only", s)
	}
	if err := checkHost(host); err != nil {
		return Endpoint{}, fmt.Errorf("%q is not host:port: %w", s, err)
	}
	p, err := parsePort(port)
	if err != nil {
		return Endpoint{}, fmt.Errorf("%q is not host:port: %w", s, err)
	}
	return Endpoint{Host: host, Port: p}, nil
}

// checkHost accepts an IP address or a DNS-style host name. Underscores are
// allowed because Windows machine names carry them.
func checkHost(h string) error {
	if h == "" {
		return errors.New("the host is empty")
	}
	if _, err := netip.ParseAddr(h); err == nil {
		return nil
	}
	bad := fmt.Errorf("%q is not a host name or IP address", h)
	if len(h) > 253 {
		return bad
	}
	labels := strings.Split(strings.TrimSuffix(h, "."), ".")
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return bad
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return bad
			}
		}
	}
	// An all-digit last label is a mistyped IPv4 address, not a name.
	if strings.Trim(labels[len(labels)-1], "0123456789") == "" {
		return bad
	}
	return nil
}

func parsePort(s string) (int, error) {
	p, err := strconv.ParseUint(s, 10, 16)
	if err != nil || p == 0 {
		return 0, fmt.Errorf("%q is not a port (1-65535)", s)
	}
	return int(p), nil
}

// Pair is an HA pair of servers. Backup may be zero: then there is only the
// primary. Switching between the two is the connection layer's job (BC-4).
type Pair struct {
	Primary, Backup Endpoint
}

// Endpoints returns the set addresses, primary first.
func (p Pair) Endpoints() []Endpoint {
	var out []Endpoint
	for _, e := range []Endpoint{p.Primary, p.Backup} {
		if !e.IsZero() {
			out = append(out, e)
		}
	}
	return out
}

// SIP is where the embedded endpoint registers at one site (BC-2).
type SIP struct {
	Registrar     Endpoint
	Transport     string // "udp", "tcp" or "tls"
	Domain        string // the request-URI domain; empty means the registrar's host
	TLSServerName string // the name checked in the registrar's certificate; empty means its host
	// Mailbox is the voicemail box whose message summary (RFC 3842) is
	// subscribed to at this site: a user part ("8500", at Domain) or a
	// SIP URI; empty means the agent's own address of record there.
	Mailbox string
}

// Site is one of the two Business Continuity sites (BC-1).
type Site struct {
	Name         string // display name, e.g. "Site A"
	Application  string // the site's application object at the Config Server (ApplicationName1/2)
	ConfigServer Pair   // Config Server Proxy (required)
	TServer      Pair   // normally read from the application's connections; set here to override
	StatServer   Pair   // optional
	SIP          SIP
	Place        string // PlaceName1/2 (BC-3)
	DN           string // the agent's DN at this site (BC-3)
}

// KeepAlive holds the ADDP-style keep-alive timeouts of T-Server links
// (BC-5).
type KeepAlive struct {
	Local  time.Duration // an idle link is polled; no reply within Local means it is lost
	Remote time.Duration // the timeout the server is asked to apply to this client
}

// TLS is optional TLS on every site-service connection.
type TLS struct {
	Enabled    bool
	CAFile     string // PEM bundle of trusted roots; empty means the system's
	ServerName string // the name checked in server certificates; empty means each server's host
}

// Config is the merged local configuration. It has no password field on
// purpose: the agent types the password at login.
type Config struct {
	Sites      [2]Site
	UserName   string // may be empty: the login dialog asks
	KeepAlive  KeepAlive
	HotSeating bool // BC-11: no preferred-site cache when true
	TLS        TLS
}

// Default returns the built-in defaults, the lowest layer of Load.
func Default() *Config {
	c := &Config{KeepAlive: KeepAlive{Local: 20 * time.Second, Remote: 30 * time.Second}}
	for i := range c.Sites {
		c.Sites[i].Name = fmt.Sprintf("Site %d", i+1)
		c.Sites[i].SIP.Transport = "udp"
	}
	return c
}

// Error is one configuration problem.
type Error struct {
	Source string // a file, "flag --x", or the files read for a missing key
	Key    string // the key as written in the source; empty when the problem is not about one key
	Err    error

	canon string // the TOML key that failed to be set, if any: not reported again as missing
}

func (e *Error) Error() string {
	if e.Key == "" {
		return e.Source + ": " + e.Err.Error()
	}
	return e.Source + ": " + e.Key + ": " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// Validate checks a Config built in code: every value, and that the required
// keys are set. Load already does this for what it returns.
func (c *Config) Validate() error {
	return errors.Join(c.check("config", nil, false)...)
}

// check validates c as a whole. source names where the values came from;
// skip holds keys whose own setting already failed, so that one mistake gives
// one error. hints adds the bc.properties names to "required" errors.
func (c *Config) check(source string, skip map[string]bool, hints bool) []error {
	var errs []error
	scratch := Default()
	for _, f := range fields {
		if skip[f.key] {
			continue
		}
		v := f.get(c)
		if v == "" {
			if f.required {
				msg := "is required but not set"
				if hints && f.prop != "" {
					msg += " (" + f.prop + " in a .properties file)"
				}
				errs = append(errs, &Error{Source: source, Key: f.key, Err: errors.New(msg)})
			}
			continue
		}
		// Re-setting the text form through the same setter as the files
		// gives a Config built in code the same checks.
		if err := f.set(scratch, v); err != nil {
			errs = append(errs, &Error{Source: source, Key: f.key, Err: err})
		}
	}
	for i, s := range c.Sites {
		for _, p := range []struct {
			name string
			pair Pair
		}{{"tserver", s.TServer}, {"stat_server", s.StatServer}} {
			key := fmt.Sprintf("site%d.%s.backup", i+1, p.name)
			if p.pair.Primary.IsZero() && !p.pair.Backup.IsZero() && !skip[key] {
				errs = append(errs, &Error{Source: source, Key: key, Err: errors.New("is set but the primary is not")})
			}
		}
	}
	return errs
}
