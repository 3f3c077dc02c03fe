package postgres

// Statements of the repositories, for the query-plan tests.
var (
	ListUsersSQL      = listUsersSQL
	AuditQuerySQL     = auditQuerySQL
	ResetPrefixSQL    = resetPrefixSQL
	CountActiveSQL    = countActiveSQL
	DeleteUserMailSQL = deleteUserMailSQL
)
