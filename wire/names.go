package wire

// Message names. They follow T-Lib's vocabulary; the wire format is Tandem's own.
const (
	// The link layer (every service).
	RequestRegisterClient = "RequestRegisterClient" // handshake, first frame from the client
	EventServerInfo       = "EventServerInfo"       // handshake answer
	KeepAlivePoll         = "KeepAlivePoll"         // ADDP-style poll of an idle link
	KeepAliveReply        = "KeepAliveReply"
	EventError            = "EventError" // the negative answer to any request

	// The T-Server.
	RequestRegisterAddress   = "RequestRegisterAddress"
	EventRegistered          = "EventRegistered"
	RequestUnregisterAddress = "RequestUnregisterAddress"
	EventUnregistered        = "EventUnregistered"
	RequestAgentLogin        = "RequestAgentLogin"
	EventAgentLogin          = "EventAgentLogin"
	RequestAgentLogout       = "RequestAgentLogout"
	EventAgentLogout         = "EventAgentLogout"
	RequestAgentReady        = "RequestAgentReady"
	EventAgentReady          = "EventAgentReady"
	RequestAgentNotReady     = "RequestAgentNotReady"
	EventAgentNotReady       = "EventAgentNotReady"
	RequestQueryAddress      = "RequestQueryAddress"
	EventAddressInfo         = "EventAddressInfo"
	RequestPrivateService    = "RequestPrivateService"
	EventPrivateInfo         = "EventPrivateInfo"
	EventDNOutOfService      = "EventDNOutOfService"
	EventDNBackInService     = "EventDNBackInService"

	// The Config Server Proxy.
	RequestAuthenticate = "RequestAuthenticate"
	EventAuthenticated  = "EventAuthenticated"
	RequestReadObject   = "RequestReadObject"
	EventObjectRead     = "EventObjectRead"

	// The Stat Server.
	RequestOpenStatistic  = "RequestOpenStatistic"
	EventStatisticOpened  = "EventStatisticOpened"
	EventStatisticInfo    = "EventStatisticInfo"
	RequestCloseStatistic = "RequestCloseStatistic"
	EventStatisticClosed  = "EventStatisticClosed"
)

// Attribute names.
const (
	AttrProtocolVersion   = "ProtocolVersion"
	AttrApplicationName   = "ApplicationName"
	AttrServerRole        = "ServerRole"        // "primary" or "backup"
	AttrAddpLocalTimeout  = "AddpLocalTimeout"  // ms: how long the sender waits for a poll's reply
	AttrAddpRemoteTimeout = "AddpRemoteTimeout" // ms: the timeout the sender asks the peer to poll it with
	AttrThisDN            = "ThisDN"
	AttrThisQueue         = "ThisQueue"
	AttrPlace             = "Place"
	AttrAgentID           = "AgentID"
	AttrPassword          = "Password"
	AttrAgentWorkMode     = "AgentWorkMode"
	AttrAgentState        = "AgentState"
	AttrReasons           = "Reasons"
	AttrExtensions        = "Extensions"
	AttrReasonCode        = "ReasonCode" // inside Reasons or Extensions
	AttrErrorCode         = "ErrorCode"
	AttrErrorMessage      = "ErrorMessage"
	AttrPrivateMsgID      = "PrivateMsgID"
	AttrUserName          = "UserName"
	AttrObjectType        = "ObjectType"
	AttrObjectName        = "ObjectName"
	AttrObject            = "Object"
	AttrStatisticID       = "StatisticID"
	AttrStatisticType     = "StatisticType"
	AttrObjectID          = "ObjectID"
	AttrStatValue         = "StatValue"
)

// Reason codes carried by EventAgentLogout (BC-16..BC-19).
const (
	ReasonDRForceLogout          = "dr-force_logout"
	ReasonGracefulShutdownLogout = "graceful_shutdown_logout"
)

// Error codes carried by EventError.
const (
	ErrCodeUnknownRequest   = 1
	ErrCodeInvalidAttribute = 2
	ErrCodeUnknownDN        = 3
	ErrCodeNotRegistered    = 4
	ErrCodeAuthFailed       = 5
	ErrCodeNotFound         = 6
	ErrCodeInvalidState     = 7
	ErrCodeOutOfService     = 8
	ErrCodeShuttingDown     = 9
	ErrCodeVersion          = 10
)

// AgentWorkMode values (attribute AgentWorkMode), as in T-Lib.
const (
	WorkModeUnknown       = 0
	WorkModeManualIn      = 1 // after login: NotReady until the agent asks for Ready
	WorkModeAutoIn        = 2 // after login: Ready
	WorkModeAfterCallWork = 3 // NotReady doing after-call work
	WorkModeAuxWork       = 4 // NotReady for another reason (break, lunch, …)
)

// AgentState values (attribute AgentState in EventRegistered and EventAddressInfo).
const (
	StateLoggedOut     = "LoggedOut"
	StateReady         = "Ready"
	StateNotReady      = "NotReady"
	StateAfterCallWork = "AfterCallWork"
)

// DNStatus values (attribute DNStatus): whether the DN's phone is registered at this site.
const (
	AttrDNStatus         = "DNStatus"
	DNStatusInService    = "InService"
	DNStatusOutOfService = "OutOfService"
)

// The Config Server Proxy's vocabulary: RequestReadObject's ObjectType, the
// attributes of the configuration objects, the connection types of an
// application object and the options the desktop reads from them.
const (
	// Object types (attribute ObjectType).
	ObjectTypePerson      = "CfgPerson"
	ObjectTypeApplication = "CfgApplication"
	ObjectTypePlace       = "CfgPlace"
	ObjectTypeDN          = "CfgDN"

	// Attributes of the objects (and Site, of a CfgDN's RequestReadObject).
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

	// Connection types (a Connection's Type).
	ConnTypeTServer      = "TServer"
	ConnTypeStatServer   = "StatServer"
	ConnTypeConfigServer = "ConfigServer"
	ConnTypeSIPRegistrar = "SIPRegistrar"

	// Sections and options of Options and Annex (BC-7, BC-8).
	SectionAgentDesktop   = "agent-desktop"             // a person's annex, an application's options
	OptSite1              = "site-1"                    // person: the preferred site's application name
	OptSite2              = "site-2"                    // person: the other site's application name
	OptSiteTimeout        = "site-timeout"              // application: seconds
	OptSIPRegisterTimeout = "site-sip-register-timeout" // application: seconds
	// The seed's sample reads these two from the person's annex (BC-8).
	OptPreferredSite = "disaster-recovery.preferred-site" // alias of site-1
	OptDRTimeout     = "disaster-recovery.timeout"        // alias of site-timeout
	SectionTServer   = "TServer"                          // a DN's annex section
	OptPassword      = "password"                         // TServer: the DN's SIP password
)

// Statistic types (attribute StatisticType) of the Stat Server.
const (
	StatCallsHandledToday = "CallsHandledToday" // calls the agent handled since midnight
	StatLoginTimeToday    = "LoginTimeToday"    // seconds the agent was logged in since midnight
)
