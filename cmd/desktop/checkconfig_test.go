package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tandem-softphone/tandem/internal/version"
)

func runArgs(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func writeTemp(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

const validTOML = `user = "SIP_5320"
[site1]
name = "Paris"
application = "AIL_Client_A"
place = "Place_5320_A"
config_server = { primary = "cfg-a1.example.com:2020", backup = "cfg-a2.example.com:2030" }
[site2]
name = "Lyon"
application = "AIL_Client_B"
place = "Place_5320_B"
dn = "5320"
config_server = { primary = "cfg-b1.example.com:2020" }
`

func TestVersionFlag(t *testing.T) {
	code, out, _ := runArgs(t, "--version")
	if code != 0 || out != version.String()+"\n" {
		t.Errorf("--version: exit %d, %q; want 0, %q", code, out, version.String())
	}
}

func TestCheckConfigValid(t *testing.T) {
	// BC-6: the seed's bc.properties is accepted as it is.
	seed, err := filepath.Abs("../../config/testdata/bc.properties")
	if err != nil {
		t.Fatal(err)
	}
	example, err := filepath.Abs("../../config/testdata/tandem.example.toml")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		file string
		want []string
	}{
		{writeTemp(t, "tandem.toml", validTOML), []string{
			": OK (TOML)", "user: SIP_5320",
			`site 1 "Paris": application AIL_Client_A, place Place_5320_A, Config Server cfg-a1.example.com:2020 (backup cfg-a2.example.com:2030)`,
			`site 2 "Lyon": application AIL_Client_B, place Place_5320_B, DN 5320, Config Server cfg-b1.example.com:2020`,
		}},
		{seed, []string{": OK (Java properties)", "user: SIP_5320", "application AIL_Client, place Place_5320, Config Server bsgen803julien:2020 (backup bsgen803julien:2030)"}},
		{example, []string{": OK (TOML)", `site 2 "Site B (Lyon)"`}},
	}
	for _, tc := range tests {
		code, out, errOut := runArgs(t, "--check-config", tc.file)
		if code != 0 {
			t.Errorf("%s: exit %d\n%s%s", tc.file, code, out, errOut)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(out, w) {
				t.Errorf("%s: output lacks %q:\n%s", tc.file, w, out)
			}
		}
	}
}

func TestCheckConfigExplainsEveryProblem(t *testing.T) {
	tests := []struct {
		name, file, content string
		want                []string
	}{
		{"values and keys", "tandem.toml", `user = "x"
[site1]
place = "P"
config_server = { primary = "nohost" }
bogus = 1
[site2]
application = "B"
place = "P"
config_server = { primary = "cfg-b:2020" }
sip = { transport = "sctp" }
`, []string{
			"4 problem(s)",
			"1. site1.bogus: unknown key",
			`2. site1.config_server.primary: "nohost" is not host:port`,
			"site2.sip.transport: ",
			"site1.application: is required but not set",
		}},
		{"TOML syntax", "tandem.toml", "[site1\n", []string{"1 problem(s)", "1. line 2: "}},
		{"properties", "bc.properties", "PrimaryHost1 = cfg-a\nPrimaryPort1 = 99999\nApplicationName1 = A\nPlaceName1 = P\n", []string{
			"PrimaryPort1", "not a port",
			"site2.application: is required but not set (ApplicationName2 in a .properties file)",
		}},
		{"missing CA file", "tandem.toml", validTOML + "[tls]\nenabled = true\nca_file = \"nowhere.pem\"\n", []string{
			"1 problem(s)", "1. tls.ca_file: cannot read the CA file: ", "nowhere.pem",
		}},
	}
	for _, tc := range tests {
		file := writeTemp(t, tc.file, tc.content)
		code, out, errOut := runArgs(t, "--check-config", file)
		if code != 1 {
			t.Errorf("%s: exit %d, want 1", tc.name, code)
		}
		if !strings.HasPrefix(out, file+": ") || !strings.Contains(errOut, file+": ") {
			t.Errorf("%s: the file is not named:\n%s%s", tc.name, out, errOut)
		}
		for _, w := range tc.want {
			if !strings.Contains(out, w) {
				t.Errorf("%s: output lacks %q:\n%s", tc.name, w, out)
			}
		}
	}
	code, out, _ := runArgs(t, "--check-config", filepath.Join(t.TempDir(), "absent.toml"))
	if code != 1 || !strings.Contains(out, "no such file") {
		t.Errorf("absent file: exit %d, %q", code, out)
	}
}

// A password in a provisioning file is ignored with a warning that never
// shows it.
func TestCheckConfigPasswordWarning(t *testing.T) {
	file := writeTemp(t, "bc.properties", "PrimaryHost1 = cfg-a\nPrimaryPort1 = 2020\nApplicationName1 = A\nPlaceName1 = P\n"+
		"PrimaryHost2 = cfg-b\nPrimaryPort2 = 2020\nApplicationName2 = B\nPlaceName2 = P\nUserName = u\nUserPass = hunter2\n")
	code, out, errOut := runArgs(t, "--check-config", file)
	if code != 0 || !strings.Contains(errOut, "UserPass") || strings.Contains(out+errOut, "hunter2") {
		t.Errorf("exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
}
