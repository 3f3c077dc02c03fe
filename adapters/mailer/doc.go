// Package mailer implements outbox.Mailer: SMTP delivers mail through an SMTP
// server (go-mail); File, for development without one, writes each mail as
// an RFC 5322 .eml file. Both build the same message from the embedded
// templates (text/template for the plain-text part, html/template for the
// HTML part) rendered by Renderer.
//
// Links in mail carry one-time tokens: nothing in this package logs a body
// or a link, and errors never contain them, nor the SMTP password.
package mailer
