package config

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/BurntSushi/toml"
)

// secretish finds a key that may hold a secret outside comments. The TOML
// parser quotes the offending text in its messages, so a syntax error near
// such a key must not show its details.
var secretish = regexp.MustCompile(`(?im)^[^#\n]*(pass|secret|token)`)

// parseTOML turns a TOML file into settings, in the file's order. ok is
// false when the file does not parse: what it meant to set is unknown.
func parseTOML(source string, data []byte, log *slog.Logger) (settings []setting, errs []error, ok bool) {
	var doc map[string]any
	md, err := toml.Decode(string(trimBOM(data)), &doc)
	if err != nil {
		var pe toml.ParseError
		if !errors.As(err, &pe) {
			return nil, []error{&Error{Source: source, Err: err}}, false
		}
		msg := fmt.Sprintf("line %d: %s", pe.Position.Line, pe.Message)
		// LastKey too: an escaped key ("p\u0061ss") does not match in data.
		if secretish.MatchString(pe.LastKey) || secretish.Match(data) {
			msg = fmt.Sprintf("line %d: TOML syntax error (details hidden: the file may hold a password)", pe.Position.Line)
		}
		return nil, []error{&Error{Source: source, Err: errors.New(msg)}}, false
	}
	var skipped []toml.Key // reported tables: their keys are not reported again
	known := make([]string, 0, len(fields)+len(tables))
	for _, f := range fields {
		known = append(known, f.key)
	}
	for t := range tables {
		known = append(known, t)
	}
	for _, k := range md.Keys() {
		if under(k, skipped) {
			continue
		}
		name := k.String()
		if len(k) == 1 && k[0] == "password" {
			if v := lookup(doc, k); v != "" {
				warnPassword(log, source, name)
			}
			skipped = append(skipped, k)
			continue
		}
		isTable := md.Type(k...) == "Hash"
		f := fieldByKey[name]
		switch {
		case isTable && tables[name]:
			continue
		case f != nil:
			if isTable {
				errs = append(errs, &Error{Source: source, Key: name, Err: errors.New("expected a value, got a table"), canon: f.key})
				skipped = append(skipped, k)
				continue
			}
			settings = append(settings, setting{key: f.key, name: name, source: source, dir: filepath.Dir(source), value: lookup(doc, k)})
			continue
		case tables[name]:
			errs = append(errs, &Error{Source: source, Key: name, Err: fmt.Errorf("expected a table, got %s", typeName(lookup(doc, k)))})
		default:
			errs = append(errs, &Error{Source: source, Key: name, Err: errors.New("unknown key" + suggest(name, known))})
		}
		skipped = append(skipped, k)
	}
	return settings, errs, true
}

func under(k toml.Key, prefixes []toml.Key) bool {
	for _, p := range prefixes {
		if len(p) <= len(k) && p.String() == k[:len(p)].String() {
			return true
		}
	}
	return false
}

// lookup walks doc along k. Keys under arrays of tables are never looked up:
// no known key lives there.
func lookup(doc map[string]any, k toml.Key) any {
	var v any = doc
	for _, part := range k {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[part]
	}
	return v
}

// MarshalTOML writes c in the layout Load reads; a valid Config round-trips.
// Empty optional values are left out. The error is always nil: the signature
// is the usual marshaller's.
func (c *Config) MarshalTOML() ([]byte, error) {
	var b bytes.Buffer
	kv := func(key, value string) {
		if value != "" {
			fmt.Fprintf(&b, "%s = %s\n", key, quote(value))
		}
	}
	kv("user", c.UserName)
	fmt.Fprintf(&b, "hot_seating = %t\n", c.HotSeating)

	b.WriteString("\n[keepalive]\n")
	kv("local", c.KeepAlive.Local.String())
	kv("remote", c.KeepAlive.Remote.String())

	b.WriteString("\n[tls]\n")
	fmt.Fprintf(&b, "enabled = %t\n", c.TLS.Enabled)
	kv("ca_file", c.TLS.CAFile)
	kv("server_name", c.TLS.ServerName)

	pair := func(key string, p Pair) {
		if p.Primary.IsZero() && p.Backup.IsZero() {
			return
		}
		var parts []string
		if !p.Primary.IsZero() {
			parts = append(parts, "primary = "+quote(p.Primary.String()))
		}
		if !p.Backup.IsZero() {
			parts = append(parts, "backup = "+quote(p.Backup.String()))
		}
		fmt.Fprintf(&b, "%s = { %s }\n", key, strings.Join(parts, ", "))
	}
	for i, s := range c.Sites {
		fmt.Fprintf(&b, "\n[site%d]\n", i+1)
		kv("name", s.Name)
		kv("application", s.Application)
		kv("place", s.Place)
		kv("dn", s.DN)
		pair("config_server", s.ConfigServer)
		pair("tserver", s.TServer)
		pair("stat_server", s.StatServer)

		fmt.Fprintf(&b, "\n[site%d.sip]\n", i+1)
		kv("registrar", s.SIP.Registrar.String())
		kv("transport", s.SIP.Transport)
		kv("domain", s.SIP.Domain)
		kv("tls_server_name", s.SIP.TLSServerName)
		kv("mailbox", s.SIP.Mailbox)
	}
	return b.Bytes(), nil
}

// quote writes a TOML basic string.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\t':
			b.WriteString(`\t`)
		case '\r':
			b.WriteString(`\r`)
		default:
			if r < 0x20 || r == 0x7f {
				fmt.Fprintf(&b, `\u%04X`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}
