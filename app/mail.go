package app

import "github.com/google/uuid"

// MailKind names an outbox message kind; the mailer has templates for each.
type MailKind string

const (
	// MailVerifyEmail: Data["link"] is the verification page link.
	MailVerifyEmail MailKind = "verify_email"
	// MailAlreadyRegistered: someone tried to register a verified address.
	// Data["login_link"], Data["reset_link"] point at the public site.
	MailAlreadyRegistered MailKind = "already_registered"
	// MailResetPassword: Data["link"] is the reset page link.
	MailResetPassword MailKind = "reset_password"
	// MailPasswordChanged: notice after a change or reset.
	MailPasswordChanged MailKind = "password_changed"
	// MailInvite: an operator made an account without a password;
	// Data["link"] is the accept-invitation page link.
	MailInvite MailKind = "invite"
	// MailAccountDeleted: notice after the owner deleted the account.
	MailAccountDeleted MailKind = "account_deleted"
	// MailConfirmEmailChange goes to a new address; Data["link"] is the
	// confirm page link.
	MailConfirmEmailChange MailKind = "confirm_email_change"
	// MailEmailChangeRequested: notice to the old address that a change
	// was asked for; Data["reset_link"] points at the forgot page.
	MailEmailChangeRequested MailKind = "email_change_requested"
	// MailMFAEnabled: notice that two-factor authentication was turned on.
	MailMFAEnabled MailKind = "mfa_enabled"
	// MailMFADisabled: notice that two-factor authentication was turned
	// off; Data["by"] is "owner" or "operator".
	MailMFADisabled MailKind = "mfa_disabled"
	// MailRecoveryCodeUsed: notice that a recovery code was used to log
	// in; Data["remaining"] is how many unused codes are left (decimal).
	MailRecoveryCodeUsed MailKind = "mfa_recovery_code_used"
	// ResetRequest is not a mail: it records a password-forgot request for
	// the typed address; the outbox worker resolves it and, when a user
	// exists, enqueues a MailResetPassword to the stored address.
	ResetRequest MailKind = "reset_request"
	// VerifyRequest is not a mail either: a resend-verification request for
	// the typed address, resolved by the worker like ResetRequest.
	VerifyRequest MailKind = "verify_request"
)

// OutboundMail is what a use case enqueues. To is always an address read
// from the user row (for the requests: the normalized typed address).
type OutboundMail struct {
	ID     uuid.UUID
	Kind   MailKind
	To     string
	UserID uuid.UUID // uuid.Nil for ResetRequest and VerifyRequest
	Data   map[string]string
}
