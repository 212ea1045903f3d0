package core

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/uuid"

	"github.com/tandem-softphone/tandem/sipua"
)

// instanceFile, in Options.StateDir, keeps the SIP endpoint's instance ID
// (the +sip.instance of its Contact, RFC 5626) from one run to the next:
// a registrar then knows the bindings of a run that was killed for this
// device's, and replaces them (kamailio), or the endpoint removes them at
// its first registration (a registrar that binds by URI alone).
const instanceFile = "sip-instance"

// loadInstanceID returns the instance ID kept in dir, and makes and keeps
// one when there is none or the file is damaged (then also an error that
// says so; the ID returned is good all the same).
func loadInstanceID(dir string) (string, error) {
	path := filepath.Join(dir, instanceFile)
	data, err := readBounded(path, 256)
	var damaged error
	switch {
	case err == nil:
		id := strings.TrimSpace(string(data))
		if u, ok := strings.CutPrefix(id, "urn:uuid:"); ok {
			if _, perr := uuid.Parse(u); perr == nil && len(u) == 36 {
				return id, nil
			}
		}
		damaged = fmt.Errorf("%s: not a urn:uuid: replaced", path)
	case !errors.Is(err, fs.ErrNotExist):
		damaged = fmt.Errorf("%s: %w: replaced", path, err)
	}
	id := "urn:uuid:" + uuid.NewString()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return id, errors.Join(damaged, fmt.Errorf("keep the SIP instance ID: %w", err))
	}
	if err := sipua.WriteBufferFile(path, []byte(id+"\n")); err != nil {
		return id, errors.Join(damaged, fmt.Errorf("keep the SIP instance ID: %w", err))
	}
	return id, damaged
}
