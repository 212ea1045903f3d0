package config

import (
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
)

func abs(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func readTestFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The admin guide's example loads cleanly and means what it says.
func TestExampleLoads(t *testing.T) {
	c, _, err := loadOnly(t, "testdata/tandem.example.toml")
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{
		UserName:   "SIP_5320",
		KeepAlive:  KeepAlive{Local: 20 * time.Second, Remote: 30 * time.Second},
		HotSeating: false,
		TLS:        TLS{CAFile: abs(t, "testdata/tandem-ca.pem")},
		Sites: [2]Site{{
			Name:         "Site A (Paris)",
			Application:  "AIL_Client_A",
			Place:        "Place_5320_A",
			DN:           "5320",
			ConfigServer: Pair{Endpoint{"cfgproxy-a1.example.com", 2020}, Endpoint{"cfgproxy-a2.example.com", 2030}},
			TServer:      Pair{Endpoint{"sipserver-a1.example.com", 3000}, Endpoint{"sipserver-a2.example.com", 3000}},
			StatServer:   Pair{Endpoint{"statserver-a1.example.com", 3100}, Endpoint{"statserver-a2.example.com", 3100}},
			SIP:          SIP{Registrar: Endpoint{"sip-a.example.com", 5060}, Transport: "udp", Domain: "a.example.com"},
		}, {
			Name:         "Site B (Lyon)",
			Application:  "AIL_Client_B",
			Place:        "Place_5320_B",
			DN:           "5320",
			ConfigServer: Pair{Endpoint{"cfgproxy-b1.example.com", 2020}, Endpoint{"cfgproxy-b2.example.com", 2030}},
			TServer:      Pair{Endpoint{"sipserver-b1.example.com", 3000}, Endpoint{"sipserver-b2.example.com", 3000}},
			StatServer:   Pair{Primary: Endpoint{"statserver-b1.example.com", 3100}},
			SIP:          SIP{Registrar: Endpoint{"2001:db8::5060", 5061}, Transport: "tls", Domain: "b.example.com", TLSServerName: "sip-b.example.com", Mailbox: "sip:vm-5320@vm-b.example.com"},
		}},
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got  %+v\nwant %+v", c, want)
	}
}

// The example sets every key, so the admin guide documents them all.
func TestExampleSetsEveryKey(t *testing.T) {
	settings, errs, _ := parseTOML("example", []byte(readTestFile(t, "testdata/tandem.example.toml")), slog.New(slog.DiscardHandler))
	if errs != nil {
		t.Fatal(errs)
	}
	// Either site may show a key.
	set := map[string]bool{}
	for _, s := range settings {
		set[strings.Replace(s.key, "site2.", "site1.", 1)] = true
	}
	for _, f := range fields {
		if !set[strings.Replace(f.key, "site2.", "site1.", 1)] {
			t.Errorf("the example does not show %s", f.key)
		}
	}
}

func TestTOMLErrors(t *testing.T) {
	tests := []struct {
		name, body string
		want       []string // without the "path: " prefix of the second file
	}{
		{"the brief's example", "[site2]\nconfig_server = { primary = \"abc\" }", []string{
			`site2.config_server.primary: "abc" is not host:port`,
		}},
		{"unknown keys, reported once per table", "colour = 1\n[site1]\nfoo = 2\n[site3]\na = 1\nb = 2\n[site1.sip.x]\ny = 1", []string{
			"colour: unknown key",
			"site1.foo: unknown key",
			"site3: unknown key",
			"site1.sip.x: unknown key",
		}},
		{"unknown key with a hint", "hot-seating = true\n[KeepAlive]\nlocal = 1", []string{
			"hot-seating: unknown key (did you mean hot_seating?)",
			"KeepAlive: unknown key (did you mean keepalive?)",
		}},
		{"array of tables instead of tables", "[[site1]]\nplace = \"x\"", []string{
			"site1: expected a table, got an array",
		}},
		{"value instead of a table", "site1 = \"x\"\ntls = 1", []string{
			"site1: expected a table, got a string",
			"tls: expected a table, got an integer",
		}},
		{"table instead of a value", "[site1.config_server.primary]\nhost = \"h\"", []string{
			"site1.config_server.primary: expected a value, got a table",
		}},
		{"wrong types", "user = 5\nhot_seating = \"maybe\"\n[keepalive]\nlocal = 1.5\nremote = 2024-01-01\n[tls]\nenabled = 1\n[site1]\nplace = []", []string{
			"user: expected a string, got an integer",
			`hot_seating: "maybe" is not true or false`,
			`keepalive.local: expected a duration ("20s") or whole seconds, got a float`,
			`keepalive.remote: expected a duration ("20s") or whole seconds, got a date or time`,
			"tls.enabled: expected true or false, got an integer",
			"site1.place: expected a string, got an array",
		}},
		{"bad durations", "[keepalive]\nlocal = \"soon\"\nremote = 0", []string{
			`keepalive.local: "soon" is not a duration (write 20s, 1m30s or whole seconds)`,
			"keepalive.remote: 0 seconds: must be more than 0 and at most 1h0m0s",
		}},
		{"durations out of range", "[keepalive]\nlocal = \"-1s\"\nremote = 3601", []string{
			`keepalive.local: "-1s": must be more than 0 and at most 1h0m0s`,
			"keepalive.remote: 3601 seconds: must be more than 0 and at most 1h0m0s",
		}},
		{"huge whole seconds", "[keepalive]\nlocal = \"99999999999999999999\"", []string{
			`keepalive.local: "99999999999999999999" seconds: must be more than 0 and at most 1h0m0s`,
		}},
		{"bad values", "[site1]\nname = \"\"\ntserver = { primary = \"h:99999\" }\n[site1.sip]\ntransport = \"sctp\"\nregistrar = \"[::1]\"", []string{
			"site1.name: must not be empty",
			`site1.tserver.primary: "h:99999" is not host:port: "99999" is not a port (1-65535)`,
			`site1.sip.transport: "sctp" is not a transport: use udp, tcp or tls`,
			`site1.sip.registrar: "[::1]" is not host:port`,
		}},
		{"required key set empty", "[site2]\nplace = \"\"\nconfig_server = { primary = \"\" }", []string{
			"site2.place: must not be empty",
			"site2.config_server.primary: must not be empty",
		}},
		{"syntax error", "user = \"x\"\n[site1\n", []string{
			"line 3: expected '.' or ']' to end table name, but got '\\n' instead",
		}},
		{"duplicate key", "user = \"a\"\nuser = \"b\"", []string{
			"line 2: Key 'user' has already been defined.",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// The first file sets the required keys; the second is tested.
			p := writeFile(t, "tandem.toml", tc.body)
			_, _, err := loadOnly(t, writeFile(t, "minimal.toml", minimalTOML), p)
			var want []string
			for _, w := range tc.want {
				want = append(want, p+": "+w)
			}
			got := errorTexts(t, err)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

// Errors from every layer are collected, not only the first.
func TestErrorsCollectedAcrossFiles(t *testing.T) {
	sys := writeFile(t, "sys.toml", "user = 1\n[site1]\nplace = \"P\"\napplication = \"A\"")
	user := writeFile(t, "user.toml", "[site1]\nconfig_server = { primary = \"x\" }\n[site2]\nplace = \"P\"")
	_, _, err := loadOnly(t, sys, user)
	want := []string{
		sys + ": user: expected a string, got an integer",
		user + `: site1.config_server.primary: "x" is not host:port`,
		sys + ", " + user + ": site2.application: is required but not set",
		sys + ", " + user + ": site2.config_server.primary: is required but not set",
	}
	if got := errorTexts(t, err); !reflect.DeepEqual(got, want) {
		t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestNoFileAtAll(t *testing.T) {
	_, _, err := loadOnly(t)
	got := errorTexts(t, err)
	if len(got) != 6 || got[0] != "no configuration file read: site1.application: is required but not set" {
		t.Errorf("errors = %q", got)
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	odd := validConfig()
	odd.UserName = `a "quoted" \ name, é, 😀`
	odd.HotSeating = true
	odd.KeepAlive = KeepAlive{Local: 1500 * time.Millisecond, Remote: time.Hour}
	odd.TLS = TLS{Enabled: true, CAFile: "/etc/ssl/ca.pem", ServerName: "site.example"}
	odd.Sites[1].ConfigServer.Backup = Endpoint{}
	odd.Sites[1].TServer.Primary = Endpoint{"fe80::1%eth0", 3000}
	odd.Sites[1].SIP = SIP{Registrar: Endpoint{"::1", 5061}, Transport: "tls", Domain: "d", TLSServerName: "n", Mailbox: "sips:vm@d"}
	odd.Sites[0].SIP.Mailbox = "8500"
	odd.Sites[0].Name = "Site #1 [main] = 'x'"

	example, _, err := loadOnly(t, "testdata/tandem.example.toml")
	if err != nil {
		t.Fatal(err)
	}
	seed, _, err := loadOnly(t, "testdata/bc.properties")
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]*Config{"code": odd, "example": example, "seed": seed} {
		t.Run(name, func(t *testing.T) {
			out, err := c.MarshalTOML()
			if err != nil {
				t.Fatal(err)
			}
			back, _, err := loadOnly(t, writeFile(t, "printed.toml", string(out)))
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if !reflect.DeepEqual(back, c) {
				t.Errorf("round trip:\ngot  %+v\nwant %+v\n%s", back, c, out)
			}
		})
	}
}

func TestMarshalLayout(t *testing.T) {
	c := validConfig()
	c.Sites[0].StatServer.Primary = Endpoint{"st", 1}
	out, _ := c.MarshalTOML()
	for _, want := range []string{
		"user = \"agent\"\nhot_seating = false\n",
		"\n[keepalive]\nlocal = \"20s\"\nremote = \"30s\"\n",
		"\n[tls]\nenabled = false\n\n[site1]\n",
		"config_server = { primary = \"cfg-a:2020\", backup = \"cfg2-a:2030\" }\n",
		"stat_server = { primary = \"st:1\" }\n",
		"\n[site2.sip]\ntransport = \"udp\"\n",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(string(out), "tserver") || strings.Contains(string(out), "dn =") {
		t.Errorf("empty optional keys written:\n%s", out)
	}
}

// Dotted keys, inline tables and quoted keys are the same keys.
func TestTOMLAlternativeForms(t *testing.T) {
	p := writeFile(t, "tandem.toml", `
"user" = "u"
keepalive.local = 25
site1 = { application = "A1", place = "P1", config_server = { primary = "h1:1" }, sip = { transport = "tcp" } }
[site2]
application = 'A2'
place = """P2"""
config_server.primary = "h2:2"
"sip"."registrar" = "r:5060"
`)
	c, _, err := loadOnly(t, p)
	if err != nil {
		t.Fatal(err)
	}
	if c.UserName != "u" || c.KeepAlive.Local != 25*time.Second || c.Sites[0].Place != "P1" ||
		c.Sites[0].SIP.Transport != "tcp" || c.Sites[1].Place != "P2" ||
		c.Sites[1].ConfigServer.Primary != (Endpoint{"h2", 2}) || c.Sites[1].SIP.Registrar != (Endpoint{"r", 5060}) {
		t.Errorf("got %+v", c)
	}
}

// quote writes valid TOML for any string, control characters included.
func TestQuote(t *testing.T) {
	var all strings.Builder
	for r := rune(0); r < 0x80; r++ {
		all.WriteRune(r)
	}
	all.WriteString("é😀\u2028")
	for _, s := range []string{"", `a"b\c`, all.String()} {
		var doc map[string]string
		if _, err := toml.Decode("k = "+quote(s), &doc); err != nil {
			t.Errorf("quote(%q) = %s: %v", s, quote(s), err)
		} else if doc["k"] != s {
			t.Errorf("quote(%q) decodes to %q", s, doc["k"])
		}
	}
}
