// Package sipua is Tandem's embedded SIP endpoint. One Endpoint holds one
// sipgo user agent, listening on UDP and TCP (and TLS when an account needs
// it), and registers every configured account at once: one account per
// Business Continuity site, so that the agent's phone is reachable through
// both sites' SIP Servers at all times (BC-2).
//
// Each account's registration is a small state machine with its own refresh
// timer. A registrar that dies is noticed within a few probe intervals,
// because every registrar is probed with OPTIONS; failed registrations are
// retried with capped back-off, and everything registers again at once when
// the registrar answers, the machine's addresses change or it wakes from
// sleep. State changes are delivered in order as Events.
//
// The package is laid out one concept per file: endpoint.go (life cycle),
// account.go and options.go (configuration), register.go (the registration
// state machine), auth.go (digest), probe.go (liveness), netwatch.go
// (network and sleep), tls.go (per-account TLS), server.go (incoming
// requests), events.go (what the application is told), clock.go (time).
package sipua
