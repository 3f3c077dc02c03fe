package mailer

import (
	"context"
	"fmt"

	"github.com/gatehouse-auth/gatehouse/app"
	"go.uber.org/zap"
)

// Log is a mailer for development only: mail is NOT delivered. Each Send
// renders the mail (so template and data errors show up as they would with
// SMTP) and logs one info line with the mail's id, kind, recipient and
// subject. It never logs the body or the links: they carry one-time tokens,
// and secrets must never reach the log. To read the links in development,
// run a local SMTP catcher and configure SMTP instead.
type Log struct {
	logger   *zap.Logger
	renderer *Renderer
}

var _ app.Mailer = (*Log)(nil)

// NewLog returns a Log mailer writing to logger (a no-op logger when nil).
// It panics if the embedded templates do not parse, which is a build defect.
func NewLog(logger *zap.Logger) *Log {
	if logger == nil {
		logger = zap.NewNop()
	}
	r, err := NewRenderer()
	if err != nil {
		panic(err)
	}
	return &Log{logger: logger.Named("mailer"), renderer: r}
}

// Send logs m without delivering it. It returns nil for every mail the SMTP
// mailer could send, and the same render error for the others (an unknown
// kind or a missing link).
func (l *Log) Send(_ context.Context, m app.OutboundMail) error {
	subject, _, _, err := l.renderer.Render(m)
	if err != nil {
		return fmt.Errorf("%w: %w", app.ErrPermanent, err)
	}
	l.logger.Info("mail not delivered (log mailer, development only)",
		zap.Stringer("mail_id", m.ID),
		zap.String("kind", string(m.Kind)),
		zap.String("to", m.To),
		zap.String("subject", subject),
	)
	return nil
}
