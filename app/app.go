// Package app holds Gatehouse's use cases, grouped by module in
// sub-packages, and the ports (interfaces) more than one of them consumes:
// the store (store.go), the platform (platform.go) and the mail they queue
// (mail.go). A port that one module consumes lives in that module.
// Adapters implement the ports; nothing here knows HTTP, SQL, SMTP or Wire.
package app

//go:generate go tool mockgen -destination=mock/ports.go -package=mock github.com/gatehouse-auth/gatehouse/app PasswordHasher,ImportedHashChecker,TxManager,UserRepository,OneTimeTokenRepository,SessionRepository,Outbox,AuditLog,EventLog,AdminKeyStore,ClientRepository,GrantRepository,PasskeyRepository,UpstreamRepository,RateLimiter,SigningKeyRing,Sealer,MFARepository,ErrorReporter,Observer,WebhookRepository
