package sitesim

import (
	"fmt"
	"strconv"

	"github.com/tandem-softphone/tandem/sitesim/directory"
	"github.com/tandem-softphone/tandem/wire"
)

// The demo's application objects, one per site (BC-7).
const (
	DemoAppSite1 = "Tandem_SiteA"
	DemoAppSite2 = "Tandem_SiteB"
)

// Demo credentials: every demo agent's Config Server password and every
// demo DN's SIP password.
const (
	DemoPassword    = "demo"
	DemoSIPPassword = "demo"
)

// Default demo ports on 127.0.0.1: site 1 uses 70x0/70x1, site 2 71x0/71x1
// (x = 1 config, 2 T-Server, 3 Stat Server; 0 primary, 1 backup); SIP is
// 5070 and 5080, UDP and TCP; the control interface is 7999.
const DefaultControlAddr = "127.0.0.1:7999"

// DefaultAddrs returns the documented demo addresses of both sites.
func DefaultAddrs() [2]SiteAddrs {
	site := func(base, sip int) SiteAddrs {
		a := func(p int) string { return "127.0.0.1:" + strconv.Itoa(p) }
		return SiteAddrs{
			ConfigPrimary:  a(base + 10),
			ConfigBackup:   a(base + 11),
			TServerPrimary: a(base + 20),
			TServerBackup:  a(base + 21),
			StatPrimary:    a(base + 30),
			StatBackup:     a(base + 31),
			SIP:            a(sip),
		}
	}
	return [2]SiteAddrs{site(7000, 5070), site(7100, 5080)}
}

// EphemeralAddrs returns loopback addresses whose ports the system picks, so
// that several simulators (tests) run side by side.
func EphemeralAddrs() [2]SiteAddrs {
	const a = "127.0.0.1:0"
	s := SiteAddrs{ConfigPrimary: a, ConfigBackup: a, TServerPrimary: a, TServerBackup: a, StatPrimary: a, StatBackup: a, SIP: a}
	return [2]SiteAddrs{s, s}
}

// DemoAgent describes one demo agent, for docs and tests.
type DemoAgent struct {
	UserName string
	AgentID  string
	DNs      [2]string
	Places   [2]string
}

// DemoAgents lists the demo agents: agent1..agent4, agent ids 1001..1004,
// DNs 5001..5004 at site 1 and 6001..6004 at site 2.
func DemoAgents() []DemoAgent {
	var out []DemoAgent
	for i := 1; i <= 4; i++ {
		out = append(out, DemoAgent{
			UserName: fmt.Sprintf("agent%d", i),
			AgentID:  fmt.Sprintf("%d", 1000+i),
			DNs:      [2]string{fmt.Sprintf("%d", 5000+i), fmt.Sprintf("%d", 6000+i)},
			Places:   [2]string{fmt.Sprintf("Place_%d_A", 5000+i), fmt.Sprintf("Place_%d_B", 6000+i)},
		})
	}
	return out
}

// Demo returns the demo configuration database: the two sites' application
// objects (site-timeout and site-sip-register-timeout 30 s) and the demo
// agents. agent1 and agent4 prefer site 1; agent2 prefers site 2; agent3
// names its preference with the BC-8 aliases only
// (disaster-recovery.preferred-site = Tandem_SiteB, disaster-recovery.timeout = 45),
// so that a desktop that ignores the aliases is seen to.
func Demo() *directory.Directory {
	d := directory.NewDirectory()
	for i, name := range []string{DemoAppSite1, DemoAppSite2} {
		d.AddApplication(directory.Application{
			Name: name,
			Site: i + 1,
			Options: directory.Options{wire.SectionAgentDesktop: {
				wire.OptSiteTimeout:        strconv.Itoa(directory.DefaultSiteTimeout),
				wire.OptSIPRegisterTimeout: strconv.Itoa(directory.DefaultSIPRegTimeout),
			}},
		})
	}
	names := []string{"One", "Two", "Three", "Four"}
	for i, a := range DemoAgents() {
		annex := map[string]string{wire.OptSite1: DemoAppSite1, wire.OptSite2: DemoAppSite2}
		switch a.UserName {
		case "agent2":
			annex = map[string]string{wire.OptSite1: DemoAppSite2, wire.OptSite2: DemoAppSite1}
		case "agent3":
			annex = map[string]string{
				"disaster-recovery.preferred-site": DemoAppSite2,
				"disaster-recovery.timeout":        "45",
			}
		}
		d.AddPerson(directory.Person{
			UserName:  a.UserName,
			Password:  DemoPassword,
			AgentID:   a.AgentID,
			FirstName: "Agent",
			LastName:  names[i],
			Annex:     directory.Options{wire.SectionAgentDesktop: annex},
			Places:    a.Places,
			DNs:       a.DNs,
		}, DemoSIPPassword)
	}
	return d
}
