// Package credstore keeps the agent's password in the operating system's
// keyring (Secret Service on Linux, Keychain on macOS, Credential Manager on
// Windows), never in a file. Store is small so that tests use Memory.
package credstore

import (
	"errors"
	"fmt"
	"sync"

	"github.com/zalando/go-keyring"
)

// Errors of a Store, for callers to test with errors.Is.
var (
	// ErrNotFound: no password is stored for the user.
	ErrNotFound = errors.New("no password stored")
	// ErrUnavailable: the keyring cannot be used (on Linux: no Secret
	// Service on the session D-Bus). The password is then not remembered.
	ErrUnavailable = errors.New("the system keyring is unavailable")
)

// Store keeps one password per user name.
type Store interface {
	Get(user string) (string, error)
	Set(user, password string) error
	Delete(user string) error
}

// Keyring is the operating system's keyring, under one service name.
type Keyring struct{ Service string }

var _ Store = Keyring{}

// Get returns the user's password, ErrNotFound or ErrUnavailable.
func (k Keyring) Get(user string) (string, error) {
	pw, err := keyring.Get(k.Service, user)
	if err != nil {
		return "", k.wrap("read", err)
	}
	return pw, nil
}

// Set stores the user's password.
func (k Keyring) Set(user, password string) error {
	if err := keyring.Set(k.Service, user, password); err != nil {
		return k.wrap("store", err)
	}
	return nil
}

// Delete forgets the user's password; forgetting none is no error.
func (k Keyring) Delete(user string) error {
	err := keyring.Delete(k.Service, user)
	if err == nil || errors.Is(err, keyring.ErrNotFound) {
		return nil
	}
	return k.wrap("delete", err)
}

// wrap classifies an error: anything but "not found" means the keyring
// itself failed (no D-Bus, no Secret Service, locked collection…).
func (k Keyring) wrap(op string, err error) error {
	if errors.Is(err, keyring.ErrNotFound) {
		return ErrNotFound
	}
	return fmt.Errorf("keyring %s %s: %w: %v", op, k.Service, ErrUnavailable, err)
}

// Memory is a Store in memory, for tests. Its zero value is ready; Fail
// makes every call return ErrUnavailable, as a machine without a keyring.
type Memory struct {
	mu   sync.Mutex
	m    map[string]string
	Fail bool
}

var _ Store = (*Memory)(nil)

// Get returns the user's password or ErrNotFound.
func (s *Memory) Get(user string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Fail {
		return "", ErrUnavailable
	}
	pw, ok := s.m[user]
	if !ok {
		return "", ErrNotFound
	}
	return pw, nil
}

// Set stores the user's password.
func (s *Memory) Set(user, password string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Fail {
		return ErrUnavailable
	}
	if s.m == nil {
		s.m = map[string]string{}
	}
	s.m[user] = password
	return nil
}

// Delete forgets the user's password.
func (s *Memory) Delete(user string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Fail {
		return ErrUnavailable
	}
	delete(s.m, user)
	return nil
}
