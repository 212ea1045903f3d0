package config

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// minimalTOML sets exactly the required keys.
const minimalTOML = `
[site1]
application = "App1"
place = "Place1"
config_server = { primary = "cfg1:2020" }
[site2]
application = "App2"
place = "Place2"
config_server = { primary = "cfg2:2020" }
`

// writeFile writes content to a new file named name in a temporary
// directory and returns its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// loadOnly loads the given files (system, then user) and nothing else,
// returning the log output too.
func loadOnly(t *testing.T, files ...string) (*Config, string, error) {
	t.Helper()
	var logs bytes.Buffer
	opts := LoadOptions{NoDefaultFiles: true, Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	if len(files) > 0 {
		opts.SystemFile = files[0]
	}
	if len(files) > 1 {
		opts.UserFile = files[1]
	}
	c, err := Load(opts)
	return c, logs.String(), err
}

// errorTexts returns the messages of the joined *Error values in err.
func errorTexts(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	var out []string
	j, ok := err.(interface{ Unwrap() []error })
	if !ok {
		t.Fatalf("error is not joined: %v", err)
	}
	for _, e := range j.Unwrap() {
		var ce *Error
		if !errors.As(e, &ce) {
			t.Errorf("error %q is not a *config.Error", e)
		}
		out = append(out, e.Error())
	}
	return out
}

func TestParseEndpoint(t *testing.T) {
	valid := []struct {
		in   string
		want Endpoint
	}{
		{"bsgen803julien:2020", Endpoint{"bsgen803julien", 2020}},
		{"127.0.0.1:1", Endpoint{"127.0.0.1", 1}},
		{"[::1]:65535", Endpoint{"::1", 65535}},
		{"[fe80::1%eth0]:5060", Endpoint{"fe80::1%eth0", 5060}},
		{"cfg_proxy-a.example.com.:2020", Endpoint{"cfg_proxy-a.example.com.", 2020}},
		{"host:080", Endpoint{"host", 80}},
	}
	for _, tc := range valid {
		got, err := ParseEndpoint(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseEndpoint(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
	invalid := []struct{ in, want string }{
		{"abc", `"abc" is not host:port`},
		{"", `"" is not host:port`},
		{"host:", `"host:" is not host:port: "" is not a port (1-65535)`},
		{":80", `the host is empty`},
		{"host:0", `"0" is not a port`},
		{"host:65536", `"65536" is not a port`},
		{"host:-1", `"-1" is not a port`},
		{"host:+80", `"+80" is not a port`},
		{"host:http", `"http" is not a port`},
		{"::1:5060", `write IPv6 addresses as [::1]:5060`},
		{"[host]:80", `brackets are for IPv6 addresses only`},
		{"a b:1", `"a b" is not a host name or IP address`},
		{"999.1.1.1:80", `"999.1.1.1" is not a host name`},
		{"-a:1", `"-a" is not a host name`},
		{"a-:1", `"a-" is not a host name`},
		{"a..b:1", `"a..b" is not a host name`},
		{"a/b:1", `"a/b" is not a host name`},
		{strings.Repeat("a", 64) + ":1", `is not a host name`},
		{strings.Repeat("a.", 127) + "ab:1", `is not a host name`},
	}
	for _, tc := range invalid {
		_, err := ParseEndpoint(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseEndpoint(%q) error = %v; want it to contain %q", tc.in, err, tc.want)
		}
	}
}

func TestEndpointString(t *testing.T) {
	for _, tc := range []struct {
		e    Endpoint
		want string
	}{
		{Endpoint{}, ""},
		{Endpoint{"h", 1}, "h:1"},
		{Endpoint{"::1", 5060}, "[::1]:5060"},
	} {
		if got := tc.e.String(); got != tc.want {
			t.Errorf("%+v.String() = %q, want %q", tc.e, got, tc.want)
		}
		if tc.want != "" {
			if back, err := ParseEndpoint(tc.want); err != nil || back != tc.e {
				t.Errorf("ParseEndpoint(%q) = %+v, %v; want %+v", tc.want, back, err, tc.e)
			}
		}
	}
}

func TestPairEndpoints(t *testing.T) {
	a, b := Endpoint{"a", 1}, Endpoint{"b", 2}
	for _, tc := range []struct {
		p    Pair
		want []Endpoint
	}{
		{Pair{}, nil},
		{Pair{Primary: a}, []Endpoint{a}},
		{Pair{Primary: a, Backup: b}, []Endpoint{a, b}},
	} {
		if got := tc.p.Endpoints(); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%+v.Endpoints() = %v, want %v", tc.p, got, tc.want)
		}
	}
}

// validConfig is a complete Config built in code.
func validConfig() *Config {
	c := Default()
	c.UserName = "agent"
	for i, name := range []string{"a", "b"} {
		s := &c.Sites[i]
		s.Application = "App_" + name
		s.Place = "Place_" + name
		s.ConfigServer = Pair{Endpoint{"cfg-" + name, 2020}, Endpoint{"cfg2-" + name, 2030}}
	}
	return c
}

func TestValidate(t *testing.T) {
	if err := validConfig().Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	tests := []struct {
		name   string
		modify func(c *Config)
		want   []string
	}{
		{"defaults miss the required keys", func(c *Config) { *c = *Default() }, []string{
			"config: site1.application: is required but not set",
			"config: site1.place: is required but not set",
			"config: site1.config_server.primary: is required but not set",
			"config: site2.application: is required but not set",
			"config: site2.place: is required but not set",
			"config: site2.config_server.primary: is required but not set",
		}},
		{"port out of range", func(c *Config) { c.Sites[0].ConfigServer.Backup.Port = 70000 }, []string{
			`config: site1.config_server.backup: "cfg2-a:70000" is not host:port: "70000" is not a port (1-65535)`,
		}},
		{"port without host", func(c *Config) { c.Sites[1].StatServer.Primary = Endpoint{Port: 1} }, []string{
			`config: site2.stat_server.primary: ":1" is not host:port: the host is empty`,
		}},
		{"backup without primary", func(c *Config) { c.Sites[1].TServer.Backup = Endpoint{"ts", 3000} }, []string{
			"config: site2.tserver.backup: is set but the primary is not",
		}},
		{"bad transport", func(c *Config) { c.Sites[0].SIP.Transport = "sctp" }, []string{
			`config: site1.sip.transport: "sctp" is not a transport: use udp, tcp or tls`,
		}},
		{"zero keep-alive", func(c *Config) { c.KeepAlive.Remote = 0 }, []string{
			`config: keepalive.remote: "0s": must be more than 0 and at most 1h0m0s`,
		}},
		{"control character", func(c *Config) { c.Sites[1].Place = "a\nb" }, []string{
			`config: site2.place: "a\nb" contains a control character`,
		}},
		{"empty site name", func(c *Config) { c.Sites[0].Name = "" }, []string{
			"config: site1.name: is required but not set",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := validConfig()
			tc.modify(c)
			got := errorTexts(t, c.Validate())
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestDefault(t *testing.T) {
	c := Default()
	// BC-5: keep-alive within the seed's 20–30 s.
	if c.KeepAlive.Local != 20*time.Second || c.KeepAlive.Remote != 30*time.Second {
		t.Errorf("keep-alive defaults = %+v", c.KeepAlive)
	}
	if c.Sites[0].Name != "Site 1" || c.Sites[1].Name != "Site 2" || c.Sites[0].SIP.Transport != "udp" {
		t.Errorf("site defaults = %+v", c.Sites)
	}
}
