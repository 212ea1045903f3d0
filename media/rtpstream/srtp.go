package rtpstream

import (
	"fmt"

	"github.com/pion/srtp/v3"

	"github.com/tandem-softphone/tandem/media/sdp"
)

// replayWindow is how many recent packets SRTP remembers to refuse
// replays (RFC 3711 section 3.3.2 asks for at least 64).
const replayWindow = 128

func srtpProfile(suite string) (srtp.ProtectionProfile, error) {
	switch suite {
	case sdp.SuiteAES128SHA1_80:
		return srtp.ProtectionProfileAes128CmHmacSha1_80, nil
	case sdp.SuiteAES128SHA1_32:
		return srtp.ProtectionProfileAes128CmHmacSha1_32, nil
	}
	return 0, fmt.Errorf("SRTP suite %q: not supported", suite)
}

// srtpContext returns the context of one direction's SDES key.
func srtpContext(c sdp.Crypto, incoming bool) (*srtp.Context, error) {
	if !c.Valid() {
		return nil, fmt.Errorf("SRTP key of tag %d: not valid", c.Tag)
	}
	profile, err := srtpProfile(c.Suite)
	if err != nil {
		return nil, err
	}
	var opts []srtp.ContextOption
	if incoming {
		opts = append(opts, srtp.SRTPReplayProtection(replayWindow), srtp.SRTCPReplayProtection(replayWindow))
	}
	ctx, err := srtp.CreateContext(c.Key, c.Salt, profile, opts...)
	if err != nil {
		return nil, fmt.Errorf("SRTP context: %w", err)
	}
	return ctx, nil
}

func sameCrypto(a, b sdp.Crypto) bool {
	return a.Suite == b.Suite && string(a.Key) == string(b.Key) && string(a.Salt) == string(b.Salt)
}
