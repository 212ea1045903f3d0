package registrar

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

// Digest algorithms a Registrar can offer (RFC 8760).
const (
	AlgorithmSHA256 = "SHA-256"
	AlgorithmMD5    = "MD5"
)

// nonceLen is the length of a nonce: 8 bytes of issue time and 16 bytes of
// HMAC, hex encoded.
const nonceLen = 2 * (8 + 16)

// newNonce returns a stateless nonce: its issue time, signed with the
// registrar's key so that only nonces we issued verify and their age can be
// checked without keeping a table.
func (r *Registrar) newNonce() string {
	var ts [8]byte
	binary.BigEndian.PutUint64(ts[:], uint64(r.clock.Now().UnixNano()))
	return hex.EncodeToString(ts[:]) + hex.EncodeToString(r.nonceMAC(ts[:]))
}

func (r *Registrar) nonceMAC(ts []byte) []byte {
	m := hmac.New(sha256.New, r.nonceKey)
	m.Write(ts)
	m.Write([]byte(r.opts.Realm))
	return m.Sum(nil)[:16]
}

// nonceIssued returns when nonce was issued, or false if we did not issue it.
func (r *Registrar) nonceIssued(nonce string) (time.Time, bool) {
	if len(nonce) != nonceLen {
		return time.Time{}, false
	}
	raw, err := hex.DecodeString(nonce)
	if err != nil {
		return time.Time{}, false
	}
	if !hmac.Equal(raw[8:], r.nonceMAC(raw[:8])) {
		return time.Time{}, false
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(raw[:8]))), true
}

// challenge builds a 401 offering one challenge per configured algorithm, in
// order of preference (RFC 8760 §2.4).
func (r *Registrar) challenge(req *sip.Request, stale bool) *sip.Response {
	res := sip.NewResponseFromRequest(req, sip.StatusUnauthorized, "Unauthorized", nil)
	nonce := r.newNonce()
	for _, alg := range r.opts.Algorithms {
		ch := digest.Challenge{
			Realm:     r.opts.Realm,
			Nonce:     nonce,
			Algorithm: alg,
			QOP:       []string{"auth"},
			Stale:     stale,
		}
		res.AppendHeader(sip.NewHeader("WWW-Authenticate", ch.String()))
	}
	return res
}

// authenticate checks the request's digest credentials for the AOR user dn.
// It returns nil when they are good, otherwise the response to send.
func (r *Registrar) authenticate(req *sip.Request, dn string) *sip.Response {
	var cred *digest.Credentials
	for _, h := range req.GetHeaders("Authorization") {
		c, err := digest.ParseCredentials(h.Value())
		if err == nil && c.Realm == r.opts.Realm {
			cred = c
			break
		}
	}
	if cred == nil {
		return r.challenge(req, false)
	}
	alg, ok := r.offered(cred.Algorithm)
	if !ok {
		return r.challenge(req, false)
	}
	issued, ok := r.nonceIssued(cred.Nonce)
	if !ok {
		return r.challenge(req, false)
	}
	// RFC 3261 §10.3 step 6 leaves it to policy which user may register an
	// AOR: here only the DN's own user.
	if cred.Username != dn || cred.Userhash {
		return forbidden(req)
	}
	password, ok := r.opts.Password(cred.Username)
	if !ok {
		return forbidden(req)
	}
	// The digest's uri is not compared with the Request-URI: clients differ
	// in how they write it (sipgo drops URI parameters), and it only guards
	// against replaying credentials for another request URI.
	if !digestMatches(alg, cred, r.opts.Realm, password, string(req.Method)) {
		return forbidden(req)
	}
	// The credentials are right but old: stale=true tells the client to
	// retry with the new nonce without asking the user (RFC 2617 §3.2.1).
	if r.clock.Now().Sub(issued) > r.opts.NonceTTL {
		return r.challenge(req, true)
	}
	return nil
}

func forbidden(req *sip.Request) *sip.Response {
	return sip.NewResponseFromRequest(req, sip.StatusForbidden, "Forbidden", nil)
}

// offered maps the credentials' algorithm to one we offered.
func (r *Registrar) offered(alg string) (string, bool) {
	if alg == "" {
		alg = AlgorithmMD5 // RFC 2617 §3.2.1: absent means MD5
	}
	for _, a := range r.opts.Algorithms {
		if strings.EqualFold(a, alg) {
			return a, true
		}
	}
	return "", false
}

// digestMatches computes the expected response (RFC 2617 §3.2.2.1, RFC 7616
// for SHA-256) and compares it in constant time.
func digestMatches(alg string, cred *digest.Credentials, realm, password, method string) bool {
	var h hash.Hash
	switch alg {
	case AlgorithmSHA256:
		h = sha256.New()
	case AlgorithmMD5:
		h = md5.New()
	default:
		return false
	}
	ha1 := hashJoin(h, cred.Username, realm, password)
	ha2 := hashJoin(h, method, cred.URI)
	var want string
	switch cred.QOP {
	case "auth":
		if cred.Cnonce == "" || cred.Nc <= 0 {
			return false
		}
		want = hashJoin(h, ha1, cred.Nonce, fmt.Sprintf("%08x", cred.Nc), cred.Cnonce, cred.QOP, ha2)
	case "":
		want = hashJoin(h, ha1, cred.Nonce, ha2)
	default:
		return false
	}
	return subtle.ConstantTimeCompare([]byte(strings.ToLower(cred.Response)), []byte(want)) == 1
}

func hashJoin(h hash.Hash, parts ...string) string {
	h.Reset()
	for i, p := range parts {
		if i > 0 {
			h.Write([]byte{':'})
		}
		h.Write([]byte(p))
	}
	return hex.EncodeToString(h.Sum(nil))
}
