package mailer

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"net/url"
	"strconv"
	"strings"
	texttemplate "text/template"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gatehouse-auth/gatehouse/app"
)

// DefaultProduct names the product in subjects and bodies unless
// NewNamedRenderer is given another name (GATEHOUSE_APP_NAME).
const DefaultProduct = "Gatehouse"

// MaxProductLength bounds a product name, in characters.
const MaxProductLength = 64

//go:embed templates/*.txt templates/*.html
var templateFS embed.FS

// ErrUnknownKind is returned (wrapped) when a mail kind has no templates.
var ErrUnknownKind = errors.New("mailer: unknown mail kind")

// ErrMissingData is returned (wrapped) when a value a kind requires is
// missing or malformed (not a link).
var ErrMissingData = errors.New("mailer: missing or invalid data")

// ErrMissingLink is returned (wrapped) when a link a kind requires is
// missing or is not an absolute http(s) URL.
var ErrMissingLink = errors.New("mailer: missing or invalid link")

// kindSpec describes one mail kind: its subject ({product} stands for the
// product name) and which Data keys must hold a link. Optional links
// (used when present) are listed separately.
type kindSpec struct {
	subject  string
	required []string
	optional []string
}

var kinds = map[app.MailKind]kindSpec{
	app.MailVerifyEmail:          {subject: "Verify your email address for {product}", required: []string{"link"}},
	app.MailAlreadyRegistered:    {subject: "Someone tried to register with your email address", required: []string{"login_link", "reset_link"}},
	app.MailResetPassword:        {subject: "Reset your {product} password", required: []string{"link"}},
	app.MailPasswordChanged:      {subject: "Your {product} password was changed", optional: []string{"reset_link"}},
	app.MailInvite:               {subject: "Your {product} account is ready: choose a password", required: []string{"link"}},
	app.MailAccountDeleted:       {subject: "Your {product} account was deleted"},
	app.MailConfirmEmailChange:   {subject: "Confirm your new email address for {product}", required: []string{"link"}},
	app.MailEmailChangeRequested: {subject: "A change of your {product} email address was requested", optional: []string{"reset_link"}},
	app.MailMFAEnabled:           {subject: "Two-factor authentication is on for your {product} account"},
	app.MailMFADisabled:          {subject: "Two-factor authentication was turned off for your {product} account"},
	app.MailRecoveryCodeUsed:     {subject: "A recovery code was used to sign in to your {product} account"},
}

// view is what the templates see.
type view struct {
	Product   string
	Link      string
	LoginLink string
	ResetLink string
	// Remaining is Data["remaining"] (recovery codes left), digits only.
	Remaining string
	// ByOperator: Data["by"] is "operator" (MFA turned off by an operator).
	ByOperator bool
	// Expires is how long the mail's link works, in words ("30 minutes",
	// "24 hours", "3 days"), from Data["expires_in"] (whole seconds); ""
	// when the mail does not say (the templates then say "soon").
	Expires string
}

// Renderer renders the subject, the plain-text body and the HTML body of
// each app.MailKind from the embedded templates. It is safe for concurrent
// use.
type Renderer struct {
	product string
	text    map[app.MailKind]*texttemplate.Template
	html    map[app.MailKind]*htmltemplate.Template
}

// NewRenderer parses the embedded templates of every mail kind; the mails
// name the product DefaultProduct.
func NewRenderer() (*Renderer, error) { return NewNamedRenderer(DefaultProduct) }

// NewNamedRenderer is NewRenderer with the product named product ("" is
// DefaultProduct). A name that is blank, longer than MaxProductLength or
// holds a control character (it goes into the Subject header) is an error.
func NewNamedRenderer(product string) (*Renderer, error) {
	if product == "" {
		product = DefaultProduct
	}
	if err := checkProduct(product); err != nil {
		return nil, err
	}
	r := &Renderer{
		product: product,
		text:    make(map[app.MailKind]*texttemplate.Template, len(kinds)),
		html:    make(map[app.MailKind]*htmltemplate.Template, len(kinds)),
	}
	for kind := range kinds {
		name := "templates/" + string(kind)
		t, err := texttemplate.New(string(kind)+".txt").Option("missingkey=error").ParseFS(templateFS, name+".txt")
		if err != nil {
			return nil, fmt.Errorf("mailer: parse text template of %s: %w", kind, err)
		}
		h, err := htmltemplate.New(string(kind)+".html").Option("missingkey=error").ParseFS(templateFS, name+".html")
		if err != nil {
			return nil, fmt.Errorf("mailer: parse html template of %s: %w", kind, err)
		}
		r.text[kind], r.html[kind] = t, h
	}
	return r, nil
}

// Render returns the subject and both bodies of m. An unknown kind, or a
// required link that is missing, empty or not an absolute http(s) URL, is an
// error: no mail is ever rendered with an empty link. Links are rendered
// verbatim in the text body and escaped for HTML in the HTML body. Errors
// name the kind and the Data key, never the link (it carries a token).
func (r *Renderer) Render(m app.OutboundMail) (subject, text, html string, err error) {
	spec, ok := kinds[m.Kind]
	if !ok {
		return "", "", "", fmt.Errorf("%w %q", ErrUnknownKind, m.Kind)
	}
	links := make(map[string]string, 2)
	for _, key := range spec.required {
		v := m.Data[key]
		if !validLink(v) {
			return "", "", "", fmt.Errorf("%w: %s needs Data[%q]", ErrMissingLink, m.Kind, key)
		}
		links[key] = v
	}
	for _, key := range spec.optional {
		if v, ok := m.Data[key]; ok {
			if !validLink(v) {
				return "", "", "", fmt.Errorf("%w: %s has an invalid Data[%q]", ErrMissingLink, m.Kind, key)
			}
			links[key] = v
		}
	}
	v := view{Product: r.product, Link: links["link"], LoginLink: links["login_link"], ResetLink: links["reset_link"], ByOperator: m.Data["by"] == "operator"}
	if n := m.Data["expires_in"]; n != "" {
		secs, err := strconv.ParseInt(n, 10, 64)
		if err != nil || secs <= 0 {
			return "", "", "", fmt.Errorf("%w: %s has an invalid Data[%q]", ErrMissingData, m.Kind, "expires_in")
		}
		v.Expires = Lifetime(time.Duration(secs) * time.Second)
	}
	if m.Kind == app.MailRecoveryCodeUsed {
		n := m.Data["remaining"]
		if n == "" || len(n) > 3 || strings.Trim(n, "0123456789") != "" {
			return "", "", "", fmt.Errorf("%w: %s needs a count in Data[%q]", ErrMissingData, m.Kind, "remaining")
		}
		v.Remaining = n
	}

	var tb, hb bytes.Buffer
	if err := r.text[m.Kind].Execute(&tb, v); err != nil {
		return "", "", "", fmt.Errorf("mailer: render text of %s: %w", m.Kind, err)
	}
	if err := r.html[m.Kind].Execute(&hb, v); err != nil {
		return "", "", "", fmt.Errorf("mailer: render html of %s: %w", m.Kind, err)
	}
	return strings.ReplaceAll(spec.subject, "{product}", r.product), tb.String(), hb.String(), nil
}

// Product is the name the mails give the product.
func (r *Renderer) Product() string { return r.product }

// checkProduct refuses a product name that cannot stand in a subject line.
func checkProduct(p string) error {
	switch {
	case !utf8.ValidString(p):
		return errors.New("mailer: the product name is not valid UTF-8")
	case strings.TrimSpace(p) == "":
		return errors.New("mailer: the product name is blank")
	case utf8.RuneCountInString(p) > MaxProductLength:
		return fmt.Errorf("mailer: the product name is longer than %d characters", MaxProductLength)
	case strings.ContainsFunc(p, unicode.IsControl):
		return errors.New("mailer: the product name contains a control character")
	}
	return nil
}

// validLink reports whether s is an absolute http or https URL with a host
// and without whitespace (which would break the link in a text body).
func validLink(s string) bool {
	if s == "" || strings.ContainsAny(s, " \t\r\n") {
		return false
	}
	u, err := url.Parse(s)
	if err != nil {
		return false
	}
	return (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// Lifetime says a link's lifetime in words: whole days from two days on
// ("3 days"), else whole hours ("24 hours", "1 hour"), else minutes
// ("30 minutes"), else seconds.
func Lifetime(d time.Duration) string {
	unit := func(n int64, one string) string {
		if n == 1 {
			return "1 " + one
		}
		return strconv.FormatInt(n, 10) + " " + one + "s"
	}
	const day = 24 * time.Hour
	switch {
	case d >= 2*day && d%day == 0:
		return unit(int64(d/day), "day")
	case d >= time.Hour && d%time.Hour == 0:
		return unit(int64(d/time.Hour), "hour")
	case d >= time.Minute:
		return unit(int64(d/time.Minute), "minute")
	}
	return unit(max(int64(d/time.Second), 1), "second")
}
