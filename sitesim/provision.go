package sitesim

import (
	"fmt"
	"net"

	"github.com/tandem-softphone/tandem/config"
	"github.com/tandem-softphone/tandem/sitesim/directory"
)

// DesktopConfig is the desktop's provisioning (BC-6) that points at a Sim
// configured with opts, for the agent with that user name. Addresses must
// have fixed ports: use (*Sim).DesktopConfig for a running Sim on port 0.
func DesktopConfig(opts Options, user string) (*config.Config, error) {
	opts.defaults()
	return desktopConfig(opts.Dir, opts.Applications, opts.Sites, user)
}

// DesktopConfig is the desktop's provisioning that points at this running
// Sim, with its bound ports.
func (s *Sim) DesktopConfig(user string) (*config.Config, error) {
	var addrs [2]SiteAddrs
	for i, site := range s.sites {
		if site == nil {
			return nil, fmt.Errorf("desktop config: site %d is not running", i+1)
		}
		addrs[i] = site.Addrs()
	}
	return desktopConfig(s.opts.Dir, s.opts.Applications, addrs, user)
}

func desktopConfig(dir *directory.Directory, apps [2]string, addrs [2]SiteAddrs, user string) (*config.Config, error) {
	p, ok := dir.Person(user)
	if !ok {
		return nil, notFoundf("desktop config: no agent with user name %q", user)
	}
	c := config.Default()
	c.UserName = user
	names := [2]string{"Site A", "Site B"}
	for i := range c.Sites {
		a := addrs[i]
		pair := func(primary, backup string) (config.Pair, error) {
			pe, err := endpoint(primary)
			if err != nil {
				return config.Pair{}, err
			}
			be, err := endpoint(backup)
			return config.Pair{Primary: pe, Backup: be}, err
		}
		s := &c.Sites[i]
		s.Name = names[i]
		s.Application = apps[i]
		s.Place = p.Places[i]
		s.DN = p.DNs[i]
		var err error
		if s.ConfigServer, err = pair(a.ConfigPrimary, a.ConfigBackup); err != nil {
			return nil, fmt.Errorf("desktop config: site %d config server: %w", i+1, err)
		}
		if s.TServer, err = pair(a.TServerPrimary, a.TServerBackup); err != nil {
			return nil, fmt.Errorf("desktop config: site %d T-Server: %w", i+1, err)
		}
		if s.StatServer, err = pair(a.StatPrimary, a.StatBackup); err != nil {
			return nil, fmt.Errorf("desktop config: site %d Stat Server: %w", i+1, err)
		}
		if s.SIP.Registrar, err = endpoint(a.SIP); err != nil {
			return nil, fmt.Errorf("desktop config: site %d SIP registrar: %w", i+1, err)
		}
		s.SIP.Transport = "udp"
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("desktop config: %w", err)
	}
	return c, nil
}

// endpoint turns a listening address into one a desktop can connect to.
func endpoint(addr string) (config.Endpoint, error) {
	addr, err := loopbackAddr(addr)
	if err != nil {
		return config.Endpoint{}, err
	}
	if _, port, _ := net.SplitHostPort(addr); port == "0" {
		return config.Endpoint{}, invalidf("%s has no fixed port: start the simulator and ask it", addr)
	}
	return config.ParseEndpoint(addr)
}
