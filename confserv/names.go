package confserv

// Protocol names that wire/names.go lacks. The Config Server Proxy simulator
// (sitesim/confsim) uses them too; they belong in wire eventually.

// Object types of RequestReadObject's ObjectType.
const (
	ObjectTypePerson      = "CfgPerson"
	ObjectTypeApplication = "CfgApplication"
	ObjectTypePlace       = "CfgPlace"
	ObjectTypeDN          = "CfgDN"
)

// Attributes of the configuration objects and of RequestReadObject.
const (
	AttrName        = "Name"        // CfgApplication, CfgPlace
	AttrSite        = "Site"        // int, 1 or 2: CfgApplication, CfgPlace, CfgDN, RequestReadObject of a CfgDN
	AttrFirstName   = "FirstName"   // CfgPerson, EventAuthenticated
	AttrLastName    = "LastName"    // CfgPerson, EventAuthenticated
	AttrAnnex       = "Annex"       // CfgPerson, CfgDN: sections of string options
	AttrOptions     = "Options"     // CfgApplication: sections of string options
	AttrConnections = "Connections" // CfgApplication: a list of Connection entries
	AttrConnection  = "Connection"  // the key of each entry of Connections
	AttrType        = "Type"        // a Connection's service type
	AttrPrimary     = "Primary"     // a Connection's primary host:port
	AttrBackup      = "Backup"      // a Connection's backup host:port
	AttrTransport   = "Transport"   // a Connection's transports ("udp,tcp")
	AttrDN          = "DN"          // CfgPlace: the place's DN
	AttrNumber      = "Number"      // CfgDN
)

// Connection types of an application object.
const (
	ConnTypeTServer      = "TServer"
	ConnTypeStatServer   = "StatServer"
	ConnTypeConfigServer = "ConfigServer"
	ConnTypeSIPRegistrar = "SIPRegistrar"
)

// Sections and options the desktop reads (BC-7, BC-8).
const (
	SectionAgentDesktop = "agent-desktop"
	OptSite1            = "site-1"
	OptSite2            = "site-2"
	// The seed's sample reads these two from the person's annex (BC-8).
	OptPreferredSite      = "disaster-recovery.preferred-site" // alias of site-1
	OptDRTimeout          = "disaster-recovery.timeout"        // alias of site-timeout
	OptSiteTimeout        = "site-timeout"
	OptSIPRegisterTimeout = "site-sip-register-timeout"
	SectionTServer        = "TServer" // a DN's annex section
	OptPassword           = "password"
)
