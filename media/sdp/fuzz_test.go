package sdp

import (
	"errors"
	"testing"
)

// FuzzParse feeds arbitrary bodies to Parse and, when they parse, to
// Answer: neither may panic, every refusal is a *NotAcceptableError (the
// SIP layer's 488), and an answer we write must parse again.
func FuzzParse(f *testing.F) {
	f.Add([]byte("v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 7000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		d, err := Parse(body)
		var na *NotAcceptableError
		if err != nil {
			if !errors.As(err, &na) {
				t.Fatalf("Parse error %v (%T): want a *NotAcceptableError", err, err)
			}
			return
		}
		if d.Index < 0 || d.Port <= 0 || !d.Address.IsValid() {
			t.Fatalf("Parse accepted an unusable stream: %+v", d)
		}
		l := local(4000)
		l.Codecs = []Codec{PCMU, PCMA, Opus}
		answer, m, err := Answer(l, body)
		if err != nil {
			if !errors.As(err, &na) {
				t.Fatalf("Answer error %v (%T): want a *NotAcceptableError", err, err)
			}
			return
		}
		a, err := Parse(answer)
		if err != nil {
			t.Fatalf("our answer does not parse: %v\n%s", err, answer)
		}
		if a.Index != d.Index || m.Send.Name == "" {
			t.Fatalf("answer stream %d (offer %d), send %v", a.Index, d.Index, m.Send)
		}
	})
}
