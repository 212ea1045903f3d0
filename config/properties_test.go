package config

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseProperties(t *testing.T) {
	type kv = [2]string
	tests := []struct {
		name string
		in   string
		want []kv
	}{
		{"separators", "a = 1\nb=2\nc: 3\nd:4\ne 5\nf\t=\t6\ng \t: 7", []kv{{"a", "1"}, {"b", "2"}, {"c", "3"}, {"d", "4"}, {"e", "5"}, {"f", "6"}, {"g", "7"}}},
		{"comments and blank lines", "# c\n! c\n   # indented\n\n  \t\nk=v\n", []kv{{"k", "v"}}},
		{"whitespace trimmed", "   key   =   value with  spaces   \t\n", []kv{{"key", "value with  spaces"}}},
		{"empty value", "UserPass =\nk=\nj", []kv{{"UserPass", ""}, {"k", ""}, {"j", ""}}},
		{"value keeps separators", "url = http://h:1/a=b", []kv{{"url", "http://h:1/a=b"}}},
		{"continuation", "k = one, \\\n    two, \\\n\tthree\nnext = x", []kv{{"k", "one, two, three"}, {"next", "x"}}},
		{"continued line starting with #", "k = a\\\n # not a comment", []kv{{"k", "a# not a comment"}}},
		{"escaped backslash does not continue", "k = a\\\\\nj = b", []kv{{"k", `a\`}, {"j", "b"}}},
		{"continuation at end of file", "k = a\\", []kv{{"k", "a"}}},
		{"comment line ending in backslash", "# c \\\nk=v", []kv{{"k", "v"}}},
		{"CRLF and CR", "a=1\r\nb=2\rc=3", []kv{{"a", "1"}, {"b", "2"}, {"c", "3"}}},
		{"escaped separators in key", `a\=b\:c\ d = v`, []kv{{"a=b:c d", "v"}}},
		{"escapes", `k = \t\u00e9\u20AC\q\\`, []kv{{"k", "\té€q\\"}}},
		{"surrogate pair", `k = \uD83D\uDE00`, []kv{{"k", "😀"}}},
		{"lone surrogates", `k = \uD83Dx\uDE00`, []kv{{"k", "\uFFFDx\uFFFD"}}},
		{"escaped trailing space kept", `k = a\ `, []kv{{"k", "a "}}},
		{"multi-byte escaped", `k = \é`, []kv{{"k", "é"}}},
		{"UTF-8 BOM", "\xEF\xBB\xBFk=v", []kv{{"k", "v"}}},
		{"ISO-8859-1", "k=caf\xe9", []kv{{"k", "café"}}},
		{"key only separator", "=v\n:w", []kv{{"", "v"}, {"", "w"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			props, err := parseProperties([]byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			var got []kv
			for _, p := range props {
				got = append(got, kv{p.key, p.value})
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestParsePropertiesLineNumbers(t *testing.T) {
	props, err := parseProperties([]byte("# c\na = 1 \\\n 2\n\nb = 3"))
	if err != nil {
		t.Fatal(err)
	}
	if len(props) != 2 || props[0].line != 2 || props[1].line != 5 {
		t.Errorf("got %+v", props)
	}
}

func TestParsePropertiesErrors(t *testing.T) {
	for _, in := range []string{"k = \\u12", "k = \\u12G4", "\n\nk\\uzzzz = v"} {
		_, err := parseProperties([]byte(in))
		if err == nil || !strings.Contains(err.Error(), `malformed \uXXXX escape`) || !strings.HasPrefix(err.Error(), "line ") {
			t.Errorf("parseProperties(%q) error = %v", in, err)
		}
	}
	_, err := parseProperties([]byte("\n\nk = \\u12"))
	if err == nil || !strings.HasPrefix(err.Error(), "line 3:") {
		t.Errorf("error = %v, want line 3", err)
	}
}

// BC-6: the seed's bc.properties sample is accepted as it is.
func TestSeedBCProperties(t *testing.T) {
	c, logs, err := loadOnly(t, "testdata/bc.properties")
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.UserName = "SIP_5320"
	want.Sites[0].Application = "AIL_Client"
	want.Sites[0].Place = "Place_5320"
	want.Sites[0].ConfigServer = Pair{Endpoint{"bsgen803julien", 2020}, Endpoint{"bsgen803julien", 2030}}
	want.Sites[1].Application = "AIL_Client"
	want.Sites[1].Place = "Place_5320"
	want.Sites[1].ConfigServer = Pair{Endpoint{"Suite80GAJulien", 2020}, Endpoint{"Suite80GAJulien", 2022}}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got  %+v\nwant %+v", c, want)
	}
	// Its UserPass is empty: nothing to warn about.
	if strings.Contains(logs, "password") {
		t.Errorf("unexpected warning: %s", logs)
	}
}

// BC-6, BC-3: the extras of a properties file: DN1/DN2 and dotted TOML keys.
func TestPropertiesExtras(t *testing.T) {
	p := writeFile(t, "bc.properties", `
PrimaryHost1 = ::1
PrimaryPort1 = 2020
BackupHost1 = [::2]
BackupPort1 = 2030
ApplicationName1 = A1
PlaceName1 = P1
DN1 = 5320
PrimaryHost2 = h2
PrimaryPort2 = 2020
ApplicationName2 = A2
PlaceName2 = P2
DN2 = 6320
# an empty value leaves the key unset: the default stays
site1.name =
site2.name = Site B
site2.sip.registrar = sip-b:5060
site2.sip.transport = TCP
hot_seating = true
keepalive.local = 25
keepalive.remote = 1m
tls.enabled = yes-no
`)
	_, _, err := loadOnly(t, p)
	want := []string{p + `: tls.enabled: "yes-no" is not true or false`}
	if got := errorTexts(t, err); !reflect.DeepEqual(got, want) {
		t.Fatalf("errors = %q, want %q", got, want)
	}
	p = writeFile(t, "bc.properties", strings.Replace(readTestFile(t, p), "yes-no", "1", 1))
	c, _, err := loadOnly(t, p)
	if err != nil {
		t.Fatal(err)
	}
	s1, s2 := c.Sites[0], c.Sites[1]
	if s1.ConfigServer.Primary.String() != "[::1]:2020" || s1.ConfigServer.Backup.String() != "[::2]:2030" ||
		s1.DN != "5320" || s2.DN != "6320" || s1.Name != "Site 1" || s2.Name != "Site B" ||
		s2.SIP.Registrar.String() != "sip-b:5060" || s2.SIP.Transport != "tcp" || !s2.ConfigServer.Backup.IsZero() ||
		!c.HotSeating || c.KeepAlive.Local.Seconds() != 25 || c.KeepAlive.Remote.Seconds() != 60 || !c.TLS.Enabled {
		t.Errorf("got %+v", c)
	}
}

func TestPropertiesErrors(t *testing.T) {
	tests := []struct {
		name, body string
		want       []string // without the "path: " prefix
	}{
		{"port without host", "BackupPort1 = 2020", []string{
			"BackupHost1: is missing (BackupPort1 is set)",
		}},
		{"host without port", "BackupHost2 = h", []string{
			"BackupPort2: is missing (BackupHost2 is set)",
		}},
		{"bad host and port", "PrimaryHost1 = a b\nPrimaryPort1 = abc\nPrimaryHost2 =\nBackupHost2 = h\nBackupPort2 = 0", []string{
			`PrimaryHost1: "a b" is not a host name or IP address`,
			`PrimaryPort1: "abc" is not a port (1-65535)`,
			"PrimaryHost2: is missing (PrimaryPort2 is set)", // the last, empty PrimaryHost2 wins
			`BackupPort2: "0" is not a port (1-65535)`,
		}},
		{"unknown key with a hint", "primaryhost1 = h\nSomething = x", []string{
			"primaryhost1: unknown key (did you mean PrimaryHost1?)",
			"Something: unknown key",
		}},
		{"dotted key with a bad value", "site2.config_server.backup = abc", []string{
			`site2.config_server.backup: "abc" is not host:port`,
		}},
		{"last duplicate wins", "PlaceName1 = \u0001\nPlaceName1 = ok", nil},
		{"malformed escape", "k\\u00", []string{`line 9: malformed \uXXXX escape`}},
	}
	base := "PrimaryHost1=h1\nPrimaryPort1=1\nApplicationName1=a\nPlaceName1=p\nPrimaryHost2=h2\nPrimaryPort2=1\nApplicationName2=a\nPlaceName2=p\n"
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := writeFile(t, "x.properties", base+tc.body)
			_, _, err := loadOnly(t, p)
			var want []string
			for _, w := range tc.want {
				want = append(want, p+": "+w)
			}
			if got := errorTexts(t, err); !reflect.DeepEqual(got, want) {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

// A properties file that misses required keys is told their seed names.
func TestPropertiesRequiredHints(t *testing.T) {
	p := writeFile(t, "bc.properties", "PrimaryHost1=h\nPrimaryPort1=1\nApplicationName1=a\nPlaceName1=p\nApplicationName2=a\n")
	_, _, err := loadOnly(t, p)
	want := []string{
		p + ": site2.place: is required but not set (PlaceName2 in a .properties file)",
		p + ": site2.config_server.primary: is required but not set (PrimaryHost2 and PrimaryPort2 in a .properties file)",
	}
	if got := errorTexts(t, err); !reflect.DeepEqual(got, want) {
		t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
