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
