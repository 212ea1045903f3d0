package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// property is one key/value of a Java properties file.
type property struct {
	key, value string
	line       int // where the logical line starts, from 1
}

// parseProperties reads Java properties syntax (java.util.Properties.load):
// "key = value", "key=value", "key: value", "key value"; "#" and "!" comment
// lines; a trailing backslash continues the line; \t \n \r \f \uXXXX and
// \<char> escapes. One deviation: trailing unescaped white space is trimmed
// from values, because a host name with a trailing blank is always a typo.
// Invalid UTF-8 input is read as ISO-8859-1, Java's own default.
func parseProperties(data []byte) ([]property, error) {
	text := decodeText(data)
	lines := splitLines(text)
	var props []property
	for i := 0; i < len(lines); i++ {
		start := i
		l := trimBlankLeft(lines[i])
		if l == "" || l[0] == '#' || l[0] == '!' {
			continue
		}
		for continues(l) {
			l = l[:len(l)-1]
			i++
			if i == len(lines) {
				break
			}
			l += trimBlankLeft(lines[i])
		}
		key, value, err := splitProperty(l)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", start+1, err)
		}
		props = append(props, property{key: key, value: value, line: start + 1})
	}
	return props, nil
}

func decodeText(data []byte) string {
	data = trimBOM(data)
	if utf8.Valid(data) {
		return string(data)
	}
	r := make([]rune, len(data))
	for i, b := range data {
		r[i] = rune(b)
	}
	return string(r)
}

func trimBOM(data []byte) []byte {
	if len(data) >= 3 && data[0] == 0xEF && data[1] == 0xBB && data[2] == 0xBF {
		return data[3:]
	}
	return data
}

// splitLines splits at \n, \r\n and \r, as Java does.
func splitLines(s string) []string {
	var lines []string
	for {
		i := strings.IndexAny(s, "\r\n")
		if i < 0 {
			return append(lines, s)
		}
		lines = append(lines, s[:i])
		if s[i] == '\r' && i+1 < len(s) && s[i+1] == '\n' {
			i++
		}
		s = s[i+1:]
	}
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' || c == '\f' }

func trimBlankLeft(s string) string { return strings.TrimLeft(s, " \t\f") }

// continues reports whether l ends in an odd number of backslashes.
func continues(l string) bool {
	n := 0
	for i := len(l) - 1; i >= 0 && l[i] == '\\'; i-- {
		n++
	}
	return n%2 == 1
}

// splitProperty splits a logical line (no leading blanks) into its
// unescaped key and value.
func splitProperty(l string) (key, value string, err error) {
	end := len(l)
	sepIsBlank := false
	for i := 0; i < len(l); i++ {
		c := l[i]
		if c == '\\' {
			i++
			continue
		}
		if c == '=' || c == ':' || isBlank(c) {
			end = i
			sepIsBlank = isBlank(c)
			break
		}
	}
	rest := l[min(end+1, len(l)):]
	if sepIsBlank {
		rest = trimBlankLeft(rest)
		if rest != "" && (rest[0] == '=' || rest[0] == ':') {
			rest = rest[1:]
		}
	}
	rest = trimBlankLeft(rest)
	if key, err = unescape(l[:end], false); err != nil {
		return "", "", err
	}
	if value, err = unescape(rest, true); err != nil {
		return "", "", err
	}
	return key, value, nil
}

// unescape resolves backslash escapes. With trimRight it drops trailing
// blanks that were not escaped.
func unescape(s string, trimRight bool) (string, error) {
	var b strings.Builder
	keep := 0 // length of b up to its last non-blank or escaped character
	var pendingHigh rune
	flushHigh := func() {
		if pendingHigh != 0 {
			b.WriteRune(utf8.RuneError)
			pendingHigh = 0
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			flushHigh()
			b.WriteByte(c)
			if !isBlank(c) {
				keep = b.Len()
			}
			continue
		}
		i++
		if i == len(s) {
			break // a lone trailing backslash is dropped, as Java does
		}
		var r rune
		switch c = s[i]; c {
		case 't':
			r = '\t'
		case 'n':
			r = '\n'
		case 'r':
			r = '\r'
		case 'f':
			r = '\f'
		case 'u':
			if i+5 > len(s) {
				return "", errors.New(`malformed \uXXXX escape`)
			}
			n, err := strconv.ParseUint(s[i+1:i+5], 16, 16)
			if err != nil {
				return "", errors.New(`malformed \uXXXX escape`)
			}
			i += 4
			u := rune(n)
			switch {
			case utf16.IsSurrogate(u) && u < 0xDC00:
				flushHigh()
				pendingHigh = u
				continue
			case utf16.IsSurrogate(u) && pendingHigh != 0:
				r = utf16.DecodeRune(pendingHigh, u)
				pendingHigh = 0
			default:
				r = u // a lone low surrogate becomes U+FFFD in WriteRune
			}
		default:
			// \<any other character> is the character itself. Copy its
			// whole UTF-8 sequence so multi-byte characters stay intact.
			_, size := utf8.DecodeRuneInString(s[i:])
			flushHigh()
			b.WriteString(s[i : i+size])
			i += size - 1
			keep = b.Len()
			continue
		}
		flushHigh()
		b.WriteRune(r)
		keep = b.Len()
	}
	flushHigh()
	out := b.String()
	if trimRight {
		out = out[:keep]
	}
	return out, nil
}

// hostPortKey matches the seed's split host and port keys.
var hostPortKey = regexp.MustCompile(`^(Primary|Backup)(Host|Port)([12])$`)

// propertyAliases maps the seed's other bc.properties keys (and DN1/DN2) to
// the TOML keys.
var propertyAliases = map[string]string{
	"UserName":         "user",
	"ApplicationName1": "site1.application",
	"ApplicationName2": "site2.application",
	"PlaceName1":       "site1.place",
	"PlaceName2":       "site2.place",
	"DN1":              "site1.dn",
	"DN2":              "site2.dn",
}

// propertySettings turns a properties file into settings. The last of
// duplicate keys wins, as in Java; an empty value leaves its key unset.
func propertySettings(source string, props []property, log *slog.Logger) ([]setting, []error) {
	last := map[string]int{}
	for i, p := range props {
		last[p.key] = i
	}
	var (
		out   []setting
		errs  []error
		parts = map[string]string{} // PrimaryHost1 etc. → value
	)
	for i, p := range props {
		if p.key == "UserPass" || p.key == "password" {
			// Any copy carries a password, even one a later line overrides.
			if p.value != "" {
				warnPassword(log, source, p.key)
			}
			continue
		}
		if last[p.key] != i || p.value == "" {
			continue
		}
		if hostPortKey.MatchString(p.key) {
			parts[p.key] = p.value
			continue
		}
		key, ok := propertyAliases[p.key]
		if !ok && fieldByKey[p.key] != nil {
			key, ok = p.key, true
		}
		if !ok {
			errs = append(errs, &Error{Source: source, Key: p.key, Err: errors.New("unknown key" + suggest(p.key, propertyNames()))})
			continue
		}
		out = append(out, setting{key: key, name: p.key, source: source, dir: filepath.Dir(source), value: p.value})
	}
	for n := 1; n <= 2; n++ {
		for _, role := range []string{"Primary", "Backup"} {
			s, err := joinHostPort(source, parts, role, n)
			if err != nil {
				errs = append(errs, err...)
			} else if s != nil {
				out = append(out, *s)
			}
		}
	}
	return out, errs
}

// joinHostPort combines e.g. PrimaryHost1 and PrimaryPort1 into the setting
// of site1.config_server.primary.
func joinHostPort(source string, parts map[string]string, role string, n int) (*setting, []error) {
	hk, pk := fmt.Sprintf("%sHost%d", role, n), fmt.Sprintf("%sPort%d", role, n)
	key := fmt.Sprintf("site%d.config_server.%s", n, strings.ToLower(role))
	host, hasHost := parts[hk]
	port, hasPort := parts[pk]
	switch {
	case !hasHost && !hasPort:
		return nil, nil
	case !hasPort:
		return nil, []error{&Error{Source: source, Key: pk, Err: fmt.Errorf("is missing (%s is set)", hk), canon: key}}
	case !hasHost:
		return nil, []error{&Error{Source: source, Key: hk, Err: fmt.Errorf("is missing (%s is set)", pk), canon: key}}
	}
	var errs []error
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if err := checkHost(host); err != nil {
		errs = append(errs, &Error{Source: source, Key: hk, Err: err, canon: key})
	}
	if _, err := parsePort(port); err != nil {
		errs = append(errs, &Error{Source: source, Key: pk, Err: err, canon: key})
	}
	if errs != nil {
		return nil, errs
	}
	return &setting{key: key, name: hk, source: source, dir: filepath.Dir(source), value: net.JoinHostPort(host, port)}, nil
}

// propertyNames lists every key a properties file accepts.
func propertyNames() []string {
	names := []string{"UserPass"}
	for n := 1; n <= 2; n++ {
		for _, role := range []string{"Primary", "Backup"} {
			names = append(names, fmt.Sprintf("%sHost%d", role, n), fmt.Sprintf("%sPort%d", role, n))
		}
	}
	for k := range propertyAliases {
		names = append(names, k)
	}
	for _, f := range fields {
		names = append(names, f.key)
	}
	return names
}

func warnPassword(log *slog.Logger, source, key string) {
	// Never the value: passwords are typed at login, not stored (no field holds one).
	log.Warn("config: ignoring a password in a configuration file; the agent types it at login",
		"file", source, "key", key)
}
