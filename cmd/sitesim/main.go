// Command sitesim runs two simulated SIP Business Continuity sites on
// loopback (sitesim --demo) and drives them (sitesim ctl …). The logic is in
// package sitesim; docs/simulator.md is the guide.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/tandem-softphone/tandem/sitesim"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := sitesim.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
