package config

import (
	"bytes"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

// Each layer overrides only the keys it sets:
// defaults < system file < user file < --config file < flags.
func TestLayers(t *testing.T) {
	sys := writeFile(t, "tandem.toml", `
user = "from-system"
[keepalive]
local = "21s"
remote = "29s"
[tls]
enabled = true
ca_file = "ca.pem"
`+minimalTOML)
	user := writeFile(t, "tandem.toml", `
user = "from-user"
[keepalive]
local = 22
[site2]
place = "UserPlace2"
config_server = { backup = "cfg2b:2030" }
`)
	extra := writeFile(t, "bc.properties", "PlaceName2 = ExtraPlace2\nDN1 = 1111\n")
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	flags := RegisterFlags(fs)
	err := fs.Parse([]string{"--config", extra, "--site1-dn", "2222", "--hot-seating", "--site1-sip-registrar=[::1]:5060", "--tls-enabled=false"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := Load(LoadOptions{SystemFile: sys, UserFile: user, Flags: flags, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.UserName = "from-user"
	want.KeepAlive = KeepAlive{Local: 22 * time.Second, Remote: 29 * time.Second}
	want.TLS = TLS{CAFile: filepath.Join(filepath.Dir(sys), "ca.pem")}
	want.HotSeating = true
	want.Sites[0].Application = "App1"
	want.Sites[0].Place = "Place1"
	want.Sites[0].DN = "2222"
	want.Sites[0].ConfigServer.Primary = Endpoint{"cfg1", 2020}
	want.Sites[0].SIP.Registrar = Endpoint{"::1", 5060}
	want.Sites[1].Application = "App2"
	want.Sites[1].Place = "ExtraPlace2"
	want.Sites[1].ConfigServer = Pair{Endpoint{"cfg2", 2020}, Endpoint{"cfg2b", 2030}}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got  %+v\nwant %+v", c, want)
	}
}

// A later layer that fixes a key clears the earlier layer's error for it,
// and a failed key is not reported a second time as missing.
func TestLayerFixesAndSingleReports(t *testing.T) {
	sys := writeFile(t, "sys.toml", strings.Replace(minimalTOML, `"cfg1:2020"`, `"cfg1"`, 1))
	_, _, err := loadOnly(t, sys)
	want := []string{sys + `: site1.config_server.primary: "cfg1" is not host:port`}
	if got := errorTexts(t, err); !reflect.DeepEqual(got, want) {
		t.Errorf("errors = %q, want %q", got, want)
	}
	user := writeFile(t, "user.toml", "[site1]\nconfig_server = { primary = \"cfg1:1\" }")
	if _, _, err := loadOnly(t, sys, user); err == nil {
		t.Error("the system file's error was dropped")
	}
}

func TestFlags(t *testing.T) {
	sys := writeFile(t, "tandem.toml", "user = \"u\"\n[keepalive]\nlocal = \"21s\"\n"+minimalTOML)
	tests := []struct {
		name  string
		args  []string
		check func(c *Config) bool
		want  []string
	}{
		{"unset flags change nothing", nil, func(c *Config) bool {
			return c.UserName == "u" && c.KeepAlive.Local == 21*time.Second && !c.HotSeating
		}, nil},
		{"every kind of value", []string{
			"--user", "", "--keepalive-local", "25", "--keepalive-remote=1m", "--hot-seating",
			"--site2-config-server-primary", "[::1]:2020", "--site2-config-server-backup", "h:1",
			"--site1-tserver-primary", "ts:3000", "--site1-stat-server-backup", "",
			"--site2-sip-transport", "TLS", "--site2-sip-tls-server-name", "n", "--site1-application", "X",
			"--tls-ca-file", "rel/ca.pem", "--site1-name", "North",
		}, func(c *Config) bool {
			return c.UserName == "" && c.KeepAlive == KeepAlive{25 * time.Second, time.Minute} && c.HotSeating &&
				c.Sites[1].ConfigServer == Pair{Endpoint{"::1", 2020}, Endpoint{"h", 1}} &&
				c.Sites[0].TServer.Primary == Endpoint{"ts", 3000} && c.Sites[1].SIP.Transport == "tls" &&
				c.Sites[1].SIP.TLSServerName == "n" && c.Sites[0].Application == "X" &&
				c.TLS.CAFile == abs(t, "rel/ca.pem") && c.Sites[0].Name == "North"
		}, nil},
		{"bad values name the flag", []string{
			"--site2-config-server-primary", "abc", "--keepalive-local", "0", "--site1-place", "",
			"--site1-sip-transport", "sctp", "--hot-seating=false",
		}, nil, []string{
			`flag --keepalive-local: "0" seconds: must be more than 0 and at most 1h0m0s`,
			`flag --site1-place: must not be empty`,
			`flag --site1-sip-transport: "sctp" is not a transport: use udp, tcp or tls`,
			`flag --site2-config-server-primary: "abc" is not host:port`,
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
			fs.Bool("unrelated", false, "a flag of the program, not of this package")
			flags := RegisterFlags(fs)
			if err := fs.Parse(append(tc.args, "--unrelated")); err != nil {
				t.Fatal(err)
			}
			c, err := Load(LoadOptions{SystemFile: sys, NoDefaultFiles: true, Flags: flags, Logger: slog.New(slog.DiscardHandler)})
			if got := errorTexts(t, err); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			if tc.check != nil && !tc.check(c) {
				t.Errorf("got %+v", c)
			}
		})
	}
}

func TestEveryKeyHasAFlag(t *testing.T) {
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	RegisterFlags(fs)
	for _, f := range fields {
		fl := fs.Lookup(flagName(f.key))
		if fl == nil {
			t.Errorf("no flag for %s", f.key)
			continue
		}
		if f.isBool != (fl.Value.Type() == "bool") {
			t.Errorf("flag --%s has type %s", fl.Name, fl.Value.Type())
		}
	}
	if fs.Lookup("config") == nil {
		t.Error("no --config flag")
	}
	if got := flagName("site1.config_server.primary"); got != "site1-config-server-primary" {
		t.Errorf("flagName = %q", got)
	}
}

func TestMissingFiles(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope.toml")

	// Named explicitly: an error that names the file.
	_, _, err := loadOnly(t, missing)
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), missing+": no such file or directory") {
		t.Errorf("error = %v", err)
	}
	// --config too.
	flagSet := pflag.NewFlagSet("test", pflag.ContinueOnError)
	flags := RegisterFlags(flagSet)
	if err := flagSet.Parse([]string{"--config", missing}); err != nil {
		t.Fatal(err)
	}
	_, err = Load(LoadOptions{NoDefaultFiles: true, Flags: flags, Logger: slog.New(slog.DiscardHandler)})
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("--config: error = %v", err)
	}

	// At a default path: skipped.
	l := newLoader(slog.New(slog.DiscardHandler))
	l.file(missing, false)
	if l.errs != nil || l.read != nil {
		t.Errorf("default path: errs %v, read %v", l.errs, l.read)
	}
	// Other failures at a default path still count.
	l.file(t.TempDir(), false)
	if len(l.errs) != 1 || !errors.Is(l.errs[0], syscall.EISDIR) {
		t.Errorf("directory at a default path: errs %v", l.errs)
	}
}

func TestTooLargeFile(t *testing.T) {
	p := writeFile(t, "big.toml", "# "+strings.Repeat("x", maxFileSize))
	_, _, err := loadOnly(t, p)
	if err == nil || !strings.Contains(err.Error(), p+": larger than") {
		t.Errorf("error = %v", err)
	}
}

// The user's file at its default path is found through XDG_CONFIG_HOME.
func TestLoadDefaultUserFile(t *testing.T) {
	sys, _ := DefaultPaths()
	if _, err := os.Stat(sys); err == nil {
		t.Skipf("%s exists on this machine", sys)
	}
	dir := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", dir)
	if err := os.MkdirAll(filepath.Join(dir, "tandem"), 0o700); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "tandem", "tandem.toml")
	if err := os.WriteFile(p, []byte("user = \"xdg\"\n"+minimalTOML), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	c, err := Load(LoadOptions{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if c.UserName != "xdg" || !strings.Contains(logs.String(), p) {
		t.Errorf("user %q, logs %s", c.UserName, logs.String())
	}
	// NoDefaultFiles skips it.
	if _, err := Load(LoadOptions{NoDefaultFiles: true, Logger: slog.New(slog.DiscardHandler)}); err == nil {
		t.Error("NoDefaultFiles read the default file")
	}
}

func TestDefaultPaths(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	home := func(h string) func() (string, error) {
		return func() (string, error) {
			if h == "" {
				return "", errors.New("no home")
			}
			return h, nil
		}
	}
	tests := []struct {
		goos         string
		env          map[string]string
		home         string
		system, user string
	}{
		{"linux", nil, "/home/a", "/etc/tandem/tandem.toml", "/home/a/.config/tandem/tandem.toml"},
		{"linux", map[string]string{"XDG_CONFIG_HOME": "/x/cfg"}, "/home/a", "/etc/tandem/tandem.toml", "/x/cfg/tandem/tandem.toml"},
		{"linux", map[string]string{"XDG_CONFIG_HOME": "relative"}, "/home/a", "/etc/tandem/tandem.toml", "/home/a/.config/tandem/tandem.toml"},
		{"linux", nil, "", "/etc/tandem/tandem.toml", ""},
		{"freebsd", nil, "/home/a", "/etc/tandem/tandem.toml", "/home/a/.config/tandem/tandem.toml"},
		{"windows", map[string]string{"ProgramData": `D:\PD\`, "APPDATA": `C:\Users\a\AppData\Roaming`}, "", `D:\PD\Tandem\tandem.toml`, `C:\Users\a\AppData\Roaming\Tandem\tandem.toml`},
		{"windows", nil, "", `C:\ProgramData\Tandem\tandem.toml`, ""},
		{"darwin", nil, "/Users/a", "/Library/Application Support/Tandem/tandem.toml", "/Users/a/Library/Application Support/Tandem/tandem.toml"},
		{"darwin", nil, "", "/Library/Application Support/Tandem/tandem.toml", ""},
	}
	for _, tc := range tests {
		sys, user := defaultPaths(tc.goos, env(tc.env), home(tc.home))
		if sys != tc.system || user != tc.user {
			t.Errorf("%s %v home %q: got %q, %q; want %q, %q", tc.goos, tc.env, tc.home, sys, user, tc.system, tc.user)
		}
	}
}

// Passwords are never kept, logged or shown in errors: a file's password
// key is ignored with a warning that names the file and key only.
func TestPasswordNeverLeaks(t *testing.T) {
	const secret = "S3cr3t-hunter2"
	tests := []struct {
		file, body string
		warnKey    string // "" when no warning is expected
		wantErr    bool
	}{
		{"tandem.toml", `password = "` + secret + `"` + "\n" + minimalTOML, "password", false},
		{"tandem.toml", "password = 12345\n" + minimalTOML, "password", false},
		{"tandem.toml", `password = ""` + "\n" + minimalTOML, "", false},
		{"tandem.toml", "password = " + secret + "\n" + minimalTOML, "", true},
		{"tandem.toml", "password = \"" + secret + "\n" + minimalTOML, "", true},
		{"tandem.toml", "password = \"\"\"" + secret + "\n", "", true},
		{"tandem.toml", "[site1]\npassword = " + secret + " x\n", "", true},
		{"tandem.toml", "user_pass = '" + secret, "", true},
		{"tandem.toml", minimalTOML + "[site1.sip]\npassword = \"" + secret + "\"", "", true},
		{"tandem.toml", minimalTOML + "UserPass = \"" + secret + "\"", "", true},
		{"bc.properties", "UserPass = " + secret + "\n" + readTestFile(t, "testdata/bc.properties"), "UserPass", false},
		{"bc.properties", "password: " + secret + "\n" + readTestFile(t, "testdata/bc.properties"), "password", false},
		{"bc.properties", "UserPass = " + secret + "\nPrimaryPort1 = x\nBogus = 1", "UserPass", true},
	}
	for i, tc := range tests {
		p := writeFile(t, tc.file, tc.body)
		var logs bytes.Buffer
		log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		c, err := Load(LoadOptions{SystemFile: p, Logger: log, NoDefaultFiles: true})
		if (err != nil) != tc.wantErr {
			t.Errorf("%d: error = %v, want error %v", i, err, tc.wantErr)
		}
		if err != nil && strings.Contains(err.Error(), secret) {
			t.Errorf("%d: the password is in the error: %v", i, err)
		}
		if strings.Contains(logs.String(), secret) {
			t.Errorf("%d: the password is in the log: %s", i, logs.String())
		}
		if c != nil {
			if out, _ := c.MarshalTOML(); strings.Contains(string(out), secret) {
				t.Errorf("%d: the password is in the printed config", i)
			}
		}
		warned := strings.Contains(logs.String(), "level=WARN")
		if tc.warnKey == "" {
			if warned {
				t.Errorf("%d: unexpected warning: %s", i, logs.String())
			}
			continue
		}
		if !warned || !strings.Contains(logs.String(), "file="+p) || !strings.Contains(logs.String(), "key="+tc.warnKey) {
			t.Errorf("%d: warning should name file and key %s: %s", i, tc.warnKey, logs.String())
		}
	}
}

// The voicemail box of each site comes from a TOML file, a properties
// file (dotted key) or a flag; what the endpoint cannot subscribe to is
// refused with the key named.
func TestMailbox(t *testing.T) {
	toml := writeFile(t, "tandem.toml", minimalTOML+"\n[site1.sip]\nmailbox = \"8500\"\n[site2.sip]\nmailbox = \"sip:vm-6001@vm-b.example.com\"\n")
	c, _, err := loadOnly(t, toml)
	if err != nil {
		t.Fatal(err)
	}
	if c.Sites[0].SIP.Mailbox != "8500" || c.Sites[1].SIP.Mailbox != "sip:vm-6001@vm-b.example.com" {
		t.Fatalf("mailboxes %q and %q", c.Sites[0].SIP.Mailbox, c.Sites[1].SIP.Mailbox)
	}
	props := writeFile(t, "bc.properties", "site2.sip.mailbox = vm@b.example.com\n")
	if c, _, err = loadOnly(t, toml, props); err != nil || c.Sites[1].SIP.Mailbox != "vm@b.example.com" || c.Sites[0].SIP.Mailbox != "8500" {
		t.Fatalf("properties layer: %v, mailboxes %q and %q", err, c.Sites[0].SIP.Mailbox, c.Sites[1].SIP.Mailbox)
	}

	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	flags := RegisterFlags(fs)
	if err := fs.Parse([]string{"--site1-sip-mailbox", "sips:vm@a.example.com", "--site2-sip-mailbox", ""}); err != nil {
		t.Fatal(err)
	}
	c, err = Load(LoadOptions{SystemFile: toml, NoDefaultFiles: true, Flags: flags, Logger: slog.New(slog.DiscardHandler)})
	if err != nil || c.Sites[0].SIP.Mailbox != "sips:vm@a.example.com" || c.Sites[1].SIP.Mailbox != "" {
		t.Fatalf("flags: %v, %+v", err, c)
	}

	for _, bad := range []string{"tel:8500", "sip:8500", "sip:@host", "vm@", "8500 9", "<sip:vm@b>"} {
		f := writeFile(t, "bad.toml", minimalTOML+"\n[site1.sip]\nmailbox = "+strconv.Quote(bad)+"\n")
		_, _, err := loadOnly(t, f)
		got := errorTexts(t, err)
		if len(got) != 1 || !strings.Contains(got[0], "site1.sip.mailbox: ") || !strings.Contains(got[0], "is not a mailbox") {
			t.Errorf("mailbox %q: errors %q", bad, got)
		}
	}
}
