package core

import (
	"os"
	"path/filepath"
	"testing"
)

// BC-11: the preferred site is remembered per user, in a file only its
// owner reads; a damaged file is rebuilt.
func TestPrefCache(t *testing.T) {
	p := prefCache{path: filepath.Join(t.TempDir(), "sub", "preferred-site.json")}
	if got := p.load("agent2"); got != 0 {
		t.Fatalf("empty cache: %d", got)
	}
	if err := p.store("agent2", 2); err != nil {
		t.Fatal(err)
	}
	if err := p.store("agent1", 1); err != nil {
		t.Fatal(err)
	}
	if p.load("agent2") != 2 || p.load("agent1") != 1 || p.load("agent3") != 0 {
		t.Fatal("cached sites lost")
	}
	fi, err := os.Stat(p.path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("cache mode %v, want 0600", fi.Mode().Perm())
	}
	if err := os.WriteFile(p.path, []byte(`{"agent2": 7, `), 0o600); err != nil {
		t.Fatal(err)
	}
	if p.load("agent2") != 0 {
		t.Fatal("a damaged cache gave a site")
	}
	if err := p.store("agent2", 2); err != nil || p.load("agent2") != 2 {
		t.Fatalf("damaged cache not rebuilt: %v", err)
	}
	if (prefCache{}).load("agent2") != 0 || (prefCache{}).store("agent2", 1) != nil {
		t.Fatal("no path: no cache, no error")
	}
}
