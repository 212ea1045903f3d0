package sdp

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
)

// The SDES crypto suites (RFC 4568 section 6.2) this package accepts. We
// offer the first; the second is accepted in offers from peers that
// prefer the short tag.
const (
	SuiteAES128SHA1_80 = "AES_CM_128_HMAC_SHA1_80"
	SuiteAES128SHA1_32 = "AES_CM_128_HMAC_SHA1_32"
)

// Both suites use a 128-bit master key and a 112-bit master salt.
const (
	masterKeyLen  = 16
	masterSaltLen = 14
)

// Crypto is one a=crypto attribute with an inline key (RFC 4568).
type Crypto struct {
	Tag   int
	Suite string
	Key   []byte // master key
	Salt  []byte // master salt
}

// NewCrypto returns a crypto attribute of the suite, tag 1, with a fresh
// random master key and salt.
func NewCrypto(suite string) (Crypto, error) {
	if !supportedSuite(suite) {
		return Crypto{}, fmt.Errorf("sdp: crypto suite %q: not supported", suite)
	}
	b := make([]byte, masterKeyLen+masterSaltLen)
	if _, err := rand.Read(b); err != nil {
		return Crypto{}, fmt.Errorf("sdp: generate SRTP key: %w", err)
	}
	return Crypto{Tag: 1, Suite: suite, Key: b[:masterKeyLen], Salt: b[masterKeyLen:]}, nil
}

func supportedSuite(s string) bool { return s == SuiteAES128SHA1_80 || s == SuiteAES128SHA1_32 }

// Valid reports whether c has a supported suite and keys of the right size.
func (c Crypto) Valid() bool {
	return supportedSuite(c.Suite) && len(c.Key) == masterKeyLen && len(c.Salt) == masterSaltLen &&
		c.Tag >= 0 && c.Tag <= 999999999
}

// Value is the attribute value: "1 AES_CM_128_HMAC_SHA1_80 inline:…".
func (c Crypto) Value() string {
	key := make([]byte, 0, len(c.Key)+len(c.Salt))
	key = append(append(key, c.Key...), c.Salt...)
	return fmt.Sprintf("%d %s inline:%s", c.Tag, c.Suite, base64.StdEncoding.EncodeToString(key))
}

// ParseCrypto reads an a=crypto attribute value. Lines this package
// cannot use, by RFC 4568 rules, give an error: an unknown suite, several
// keys, a key with an MKI, or session parameters.
func ParseCrypto(value string) (Crypto, error) {
	f := strings.Fields(value)
	if len(f) < 3 {
		return Crypto{}, fmt.Errorf("sdp: crypto %q: want tag, suite and key parameters", value)
	}
	if len(f) > 3 {
		return Crypto{}, fmt.Errorf("sdp: crypto %q: session parameters not supported", value)
	}
	tag, err := strconv.Atoi(f[0])
	if err != nil || tag < 0 || tag > 999999999 || len(f[0]) > 9 {
		return Crypto{}, fmt.Errorf("sdp: crypto %q: bad tag", value)
	}
	if !supportedSuite(f[1]) {
		return Crypto{}, fmt.Errorf("sdp: crypto %q: suite not supported", value)
	}
	if strings.Contains(f[2], ";") {
		return Crypto{}, fmt.Errorf("sdp: crypto %q: several keys not supported", value)
	}
	method, params, ok := strings.Cut(f[2], ":")
	if !ok || method != "inline" {
		return Crypto{}, fmt.Errorf("sdp: crypto %q: key method must be inline", value)
	}
	parts := strings.Split(params, "|")
	if len(parts) > 3 {
		return Crypto{}, fmt.Errorf("sdp: crypto %q: too many key parameters", value)
	}
	for _, p := range parts[1:] {
		// A lifetime ("2^31" or a number) is only an upper bound we never
		// reach in a call; an MKI ("1:4") would change the packet format.
		if strings.Contains(p, ":") {
			return Crypto{}, fmt.Errorf("sdp: crypto %q: MKI not supported", value)
		}
	}
	raw, err := base64.StdEncoding.DecodeString(parts[0])
	if err != nil {
		// Some peers leave out the padding.
		raw, err = base64.RawStdEncoding.DecodeString(parts[0])
	}
	if err != nil || len(raw) != masterKeyLen+masterSaltLen {
		return Crypto{}, fmt.Errorf("sdp: crypto %q: key must be %d bytes of base64", value, masterKeyLen+masterSaltLen)
	}
	return Crypto{Tag: tag, Suite: f[1], Key: raw[:masterKeyLen:masterKeyLen], Salt: raw[masterKeyLen:]}, nil
}
