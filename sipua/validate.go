package sipua

import (
	"strings"

	"github.com/emiago/sipgo/sip"
)

// checkRequest refuses requests that sipgo's lenient parser accepts but RFC
// 3261 and the RFC 4475 torture tests say an endpoint must refuse. It returns
// 0 when the request may be handled, else the status code and reason to answer.
func checkRequest(req *sip.Request) (int, string) {
	switch strings.ToLower(req.Recipient.Scheme) {
	case "sip", "sips":
	default:
		// RFC 3261 §8.2.2.1.
		return 416, "Unsupported URI Scheme"
	}
	if n := len(req.GetHeaders("Content-Length")); n > 1 {
		// RFC 4475 §3.1.2.11: the body's length cannot be known.
		return sip.StatusBadRequest, "Multiple Content-Length values"
	}
	if cseq := req.CSeq(); cseq == nil || !strings.EqualFold(string(cseq.MethodName), string(req.Method)) {
		// RFC 4475 §3.4.1 (a CANCEL's or ACK's CSeq names that method too).
		return sip.StatusBadRequest, "CSeq method does not match the request"
	}
	return 0, ""
}
