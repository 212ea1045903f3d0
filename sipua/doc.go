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
// Calls go out through an account (its registrar is the outbound proxy)
// and come in through any; each is a Call, whose changes are CallEvents.
// A call's dialog is kept as a plain DialogState, from which every
// in-dialog request is built, so that a stored call can be restored in a
// fresh endpoint. Its audio is one rtpstream.Stream, connected to the
// audio devices while it is the call that talks: answering a second call,
// or resuming one, holds the others.
//
// The package is laid out one concept per file: endpoint.go (life cycle),
// account.go and options.go (configuration), register.go (the registration
// state machine), auth.go (digest), probe.go (liveness), netwatch.go
// (network and sleep), tls.go (per-account TLS), server.go (incoming
// requests), events.go (what the application is told), clock.go (time);
// for calls: call.go (the Call handle and its states), dialog.go (dialog
// state and in-dialog requests), request.go (sending them), invite_out.go
// and invite_in.go (setting calls up), hold.go (re-INVITE both ways),
// hangup.go (BYE, CANCEL), dtmf.go, transfer.go (REFER, NOTIFY, Replaces),
// media.go (the stream and the audio devices) and devices.go (changing
// the devices while calls run); for subscriptions:
// subscribe.go, notify.go and mwi.go; for save and restore (BC-25…BC-30,
// docs/call-buffer.md): callbuf.go (the buffer format), store.go and
// restore.go (calls), substore.go (subscriptions) and relaunch.go.
package sipua
