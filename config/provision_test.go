package config

import (
	"log/slog"
	"os"
	"path/filepath"
	"testing"
)

// BC-6: an admin may provision the seed's bc.properties in the default
// directories; it is read before tandem.toml in the same directory, which
// overrides it key by key.
func TestDefaultDirectoryProperties(t *testing.T) {
	sys, _ := DefaultPaths()
	for _, f := range []string{sys, filepath.Join(filepath.Dir(sys), PropertiesName)} {
		if _, err := os.Stat(f); err == nil {
			t.Skipf("%s exists on this machine", f)
		}
	}
	xdg := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", xdg)
	dir := filepath.Join(xdg, "tandem")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	seed, err := os.ReadFile("testdata/bc.properties")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, PropertiesName), seed, 0o600); err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.DiscardHandler)

	c, err := Load(LoadOptions{Logger: quiet})
	if err != nil {
		t.Fatalf("bc.properties alone: %v", err)
	}
	if c.UserName != "SIP_5320" || c.Sites[1].ConfigServer.Backup.Port != 2022 {
		t.Errorf("bc.properties alone: user %q, site 2 backup %v", c.UserName, c.Sites[1].ConfigServer.Backup)
	}

	toml := "user = \"from_toml\"\n[site1]\nplace = \"Place_TOML\"\n"
	if err := os.WriteFile(filepath.Join(dir, "tandem.toml"), []byte(toml), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err = Load(LoadOptions{Logger: quiet})
	if err != nil {
		t.Fatalf("bc.properties and tandem.toml: %v", err)
	}
	if c.UserName != "from_toml" || c.Sites[0].Place != "Place_TOML" || c.Sites[0].Application != "AIL_Client" {
		t.Errorf("tandem.toml does not override bc.properties key by key: user %q, site 1 %+v", c.UserName, c.Sites[0])
	}
}
