package credstore

import (
	"errors"
	"runtime"
	"testing"
)

func TestMemory(t *testing.T) {
	var s Memory
	if _, err := s.Get("alice"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get before Set: %v", err)
	}
	if err := s.Set("alice", "s3cret"); err != nil {
		t.Fatal(err)
	}
	if pw, err := s.Get("alice"); err != nil || pw != "s3cret" {
		t.Fatalf("Get: %q %v", pw, err)
	}
	if err := s.Delete("alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get("alice"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get after Delete: %v", err)
	}
	s.Fail = true
	if err := s.Set("alice", "x"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Set on a failing store: %v", err)
	}
}

// Without a session D-Bus (as on these test machines) the real keyring
// reports ErrUnavailable instead of crashing or pretending to work.
func TestKeyringWithoutDBus(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the Secret Service is Linux's")
	}
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path="+t.TempDir()+"/no-bus")
	k := Keyring{Service: "tandem-test"}
	if err := k.Set("alice", "s3cret"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Set without D-Bus: %v, want ErrUnavailable", err)
	}
	if _, err := k.Get("alice"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Get without D-Bus: %v, want ErrUnavailable", err)
	}
	if err := k.Delete("alice"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Delete without D-Bus: %v, want ErrUnavailable", err)
	}
}
