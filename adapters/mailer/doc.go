// Package mailer implements app.Mailer: SMTP delivers mail through an SMTP
// server (go-mail), Log only logs that a mail would have been sent and is for
// development. Both render the embedded templates (text/template for the
// plain-text part, html/template for the HTML part) with Renderer.
//
// Links in mail carry one-time tokens: nothing in this package logs a body
// or a link, and errors never contain them, nor the SMTP password.
package mailer
