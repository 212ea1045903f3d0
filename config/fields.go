package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// A field is one settable key. TOML files, properties files, flags and
// Validate all go through the same setter, so a value is checked the same
// way wherever it comes from.
type field struct {
	key      string // dotted TOML key
	usage    string // flag help; a `word` in back quotes names the value
	isBool   bool
	required bool   // must be non-empty after all layers
	isPath   bool   // relative values in a file are resolved against the file's directory
	prop     string // the bc.properties name, for hints in "required" errors
	get      func(c *Config) string
	set      func(c *Config, v any) error // v is a string, or a decoded TOML value
}

// maxDuration bounds keep-alive timeouts: beyond an hour a lost link would
// go unnoticed for the whole shift.
const maxDuration = time.Hour

var (
	fields     = buildFields()
	fieldByKey = indexFields(fields)
	tables     = tableKeys(fields)
)

func buildFields() []field {
	caFile := stringField("tls.ca_file", "PEM `file` of trusted CAs (empty: the system's)", false, nil,
		func(c *Config) *string { return &c.TLS.CAFile })
	caFile.isPath = true
	fs := []field{
		stringField("user", "agent user `name` (empty: the login dialog asks)", false, nil,
			func(c *Config) *string { return &c.UserName }),
		boolField("hot_seating", "hot seating: never cache the preferred site (BC-11)",
			func(c *Config) *bool { return &c.HotSeating }),
		durationField("keepalive.local", "keep-alive `timeout` of T-Server links: an idle link is polled, no reply within it means lost (BC-5)",
			func(c *Config) *time.Duration { return &c.KeepAlive.Local }),
		durationField("keepalive.remote", "keep-alive `timeout` the T-Server is asked to apply to this client (BC-5)",
			func(c *Config) *time.Duration { return &c.KeepAlive.Remote }),
		boolField("tls.enabled", "use TLS on every site-service connection",
			func(c *Config) *bool { return &c.TLS.Enabled }),
		caFile,
		stringField("tls.server_name", "`name` checked in server certificates (empty: each server's host)", false, nil,
			func(c *Config) *string { return &c.TLS.ServerName }),
	}
	for i := range 2 {
		n := i + 1
		site := func(c *Config) *Site { return &c.Sites[i] }
		pre := fmt.Sprintf("site%d.", n)
		desc := fmt.Sprintf("site %d ", n)
		app := stringField(pre+"application", desc+"application object `name` at the Config Server", true, nil,
			func(c *Config) *string { return &site(c).Application })
		app.prop = fmt.Sprintf("ApplicationName%d", n)
		place := stringField(pre+"place", desc+"place `name` (BC-3)", true, nil,
			func(c *Config) *string { return &site(c).Place })
		place.prop = fmt.Sprintf("PlaceName%d", n)
		cfg := endpointField(pre+"config_server.primary", desc+"Config Server Proxy primary `host:port`", true,
			func(c *Config) *Endpoint { return &site(c).ConfigServer.Primary })
		cfg.prop = fmt.Sprintf("PrimaryHost%d and PrimaryPort%d", n, n)
		fs = append(fs,
			stringField(pre+"name", desc+"display `name`", true, nil,
				func(c *Config) *string { return &site(c).Name }),
			app,
			place,
			stringField(pre+"dn", desc+"agent `DN` (BC-3)", false, nil,
				func(c *Config) *string { return &site(c).DN }),
			cfg,
			endpointField(pre+"config_server.backup", desc+"Config Server Proxy backup `host:port`", false,
				func(c *Config) *Endpoint { return &site(c).ConfigServer.Backup }),
			endpointField(pre+"tserver.primary", desc+"T-Server primary `host:port` (empty: from the Config Server)", false,
				func(c *Config) *Endpoint { return &site(c).TServer.Primary }),
			endpointField(pre+"tserver.backup", desc+"T-Server backup `host:port`", false,
				func(c *Config) *Endpoint { return &site(c).TServer.Backup }),
			endpointField(pre+"stat_server.primary", desc+"Stat Server primary `host:port`", false,
				func(c *Config) *Endpoint { return &site(c).StatServer.Primary }),
			endpointField(pre+"stat_server.backup", desc+"Stat Server backup `host:port`", false,
				func(c *Config) *Endpoint { return &site(c).StatServer.Backup }),
			endpointField(pre+"sip.registrar", desc+"SIP registrar `host:port`", false,
				func(c *Config) *Endpoint { return &site(c).SIP.Registrar }),
			stringField(pre+"sip.transport", desc+"SIP `transport`: udp, tcp or tls", true, checkTransport,
				func(c *Config) *string { return &site(c).SIP.Transport }),
			stringField(pre+"sip.domain", desc+"SIP `domain` (empty: the registrar's host)", false, nil,
				func(c *Config) *string { return &site(c).SIP.Domain }),
			stringField(pre+"sip.tls_server_name", desc+"`name` checked in the SIP registrar's certificate", false, nil,
				func(c *Config) *string { return &site(c).SIP.TLSServerName }),
			stringField(pre+"sip.mailbox", desc+"voicemail `box` whose message count is shown: a user part or a SIP URI (empty: the DN's own)", false, checkMailbox,
				func(c *Config) *string { return &site(c).SIP.Mailbox }),
		)
	}
	return fs
}

func indexFields(fs []field) map[string]*field {
	m := make(map[string]*field, len(fs))
	for i := range fs {
		m[fs[i].key] = &fs[i]
	}
	return m
}

// tableKeys returns every proper prefix of a key: the TOML tables.
func tableKeys(fs []field) map[string]bool {
	m := map[string]bool{}
	for _, f := range fs {
		for i := range len(f.key) {
			if f.key[i] == '.' {
				m[f.key[:i]] = true
			}
		}
	}
	return m
}

// suggest names a known key that differs from k only in case or in dashes
// versus underscores, for "unknown key" errors.
func suggest(k string, known []string) string {
	norm := func(s string) string { return strings.ReplaceAll(strings.ToLower(s), "-", "_") }
	for _, c := range known {
		if norm(c) == norm(k) {
			return fmt.Sprintf(" (did you mean %s?)", c)
		}
	}
	return ""
}

func stringField(key, usage string, required bool, check func(string) (string, error), p func(*Config) *string) field {
	return field{
		key: key, usage: usage, required: required,
		get: func(c *Config) string { return *p(c) },
		set: func(c *Config, v any) error {
			s, err := asString(v)
			if err != nil {
				return err
			}
			if required && s == "" {
				return errors.New("must not be empty")
			}
			if err := checkText(s); err != nil {
				return err
			}
			if check != nil {
				if s, err = check(s); err != nil {
					return err
				}
			}
			*p(c) = s
			return nil
		},
	}
}

func endpointField(key, usage string, required bool, p func(*Config) *Endpoint) field {
	return field{
		key: key, usage: usage, required: required,
		get: func(c *Config) string { return p(c).String() },
		set: func(c *Config, v any) error {
			s, err := asString(v)
			if err != nil {
				return err
			}
			if s == "" {
				if required {
					return errors.New("must not be empty")
				}
				*p(c) = Endpoint{}
				return nil
			}
			e, err := ParseEndpoint(s)
			if err != nil {
				return err
			}
			*p(c) = e
			return nil
		},
	}
}

func boolField(key, usage string, p func(*Config) *bool) field {
	return field{
		key: key, usage: usage, isBool: true,
		get: func(c *Config) string { return strconv.FormatBool(*p(c)) },
		set: func(c *Config, v any) error {
			switch v := v.(type) {
			case bool:
				*p(c) = v
				return nil
			case string:
				b, err := strconv.ParseBool(v)
				if err != nil {
					return fmt.Errorf("%q is not true or false", v)
				}
				*p(c) = b
				return nil
			}
			return fmt.Errorf("expected true or false, got %s", typeName(v))
		},
	}
}

func durationField(key, usage string, p func(*Config) *time.Duration) field {
	return field{
		key: key, usage: usage,
		get: func(c *Config) string { return p(c).String() },
		set: func(c *Config, v any) error {
			d, err := asDuration(v)
			if err != nil {
				return err
			}
			*p(c) = d
			return nil
		},
	}
}

// asDuration accepts a Go duration string ("20s", "1m30s"), or whole seconds
// as a TOML integer or a string of digits.
func asDuration(v any) (time.Duration, error) {
	bad := func() error {
		return fmt.Errorf("must be more than 0 and at most %v", maxDuration)
	}
	switch v := v.(type) {
	case int64:
		if v <= 0 || v > int64(maxDuration/time.Second) {
			return 0, fmt.Errorf("%d seconds: %w", v, bad())
		}
		return time.Duration(v) * time.Second, nil
	case string:
		if v != "" && strings.Trim(v, "0123456789") == "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n <= 0 || n > int64(maxDuration/time.Second) {
				return 0, fmt.Errorf("%q seconds: %w", v, bad())
			}
			return time.Duration(n) * time.Second, nil
		}
		d, err := time.ParseDuration(v)
		if err != nil {
			return 0, fmt.Errorf("%q is not a duration (write 20s, 1m30s or whole seconds)", v)
		}
		if d <= 0 || d > maxDuration {
			return 0, fmt.Errorf("%q: %w", v, bad())
		}
		return d, nil
	}
	return 0, fmt.Errorf("expected a duration (\"20s\") or whole seconds, got %s", typeName(v))
}

func asString(v any) (string, error) {
	if s, ok := v.(string); ok {
		return s, nil
	}
	return "", fmt.Errorf("expected a string, got %s", typeName(v))
}

// typeName names a decoded TOML value's type without showing the value.
func typeName(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case int64:
		return "an integer"
	case float64:
		return "a float"
	case bool:
		return "a boolean"
	case map[string]any:
		return "a table"
	case []any, []map[string]any:
		return "an array"
	}
	return "a date or time"
}

// checkText refuses what no name or path in this configuration can hold.
func checkText(s string) error {
	if !utf8.ValidString(s) {
		return errors.New("is not valid UTF-8")
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("%q contains a control character", s)
		}
	}
	return nil
}

func checkTransport(s string) (string, error) {
	switch t := strings.ToLower(s); t {
	case "udp", "tcp", "tls":
		return t, nil
	}
	return "", fmt.Errorf("%q is not a transport: use udp, tcp or tls", s)
}

// checkMailbox accepts a user part ("8500"), user@host, or a sip: or
// sips: URI: what the endpoint can subscribe to.
func checkMailbox(s string) (string, error) {
	if s == "" {
		return s, nil
	}
	bad := func(why string) error {
		return fmt.Errorf("%q is not a mailbox (%s): write 8500 or sip:8500@example.com", s, why)
	}
	if strings.ContainsAny(s, " \t<>\"") {
		return "", bad("spaces, angle brackets or quotes")
	}
	rest := s
	if scheme, after, ok := strings.Cut(s, ":"); ok && !strings.Contains(scheme, "@") {
		switch strings.ToLower(scheme) {
		case "sip", "sips":
		default:
			return "", bad("only sip: and sips: URIs")
		}
		rest = after
		if !strings.Contains(rest, "@") {
			return "", bad("a URI needs user@host")
		}
	}
	user, host, hasHost := strings.Cut(rest, "@")
	if user == "" || hasHost && host == "" {
		return "", bad("empty user or host")
	}
	return s, nil
}
