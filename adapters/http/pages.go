package http

import (
	"bytes"
	"embed"
	"errors"
	"html/template"
	"strconv"

	"github.com/gatehouse-auth/gatehouse/app/limits"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
)

// The hosted pages are the links in the mails. A GET only shows a form: mail
// scanners prefetch links, so nothing is consumed until the user posts it.
// No JavaScript, and a CSP that allows none.

//go:embed pages/*.html
var pageFS embed.FS

var pageTmpl = template.Must(template.ParseFS(pageFS, "pages/*.html"))

type pageData struct {
	Title   string
	Token   string
	Message string
	Errors  []string
	OK      bool
}

func renderPage(c *fiber.Ctx, status int, name string, d pageData) error {
	var buf bytes.Buffer
	if err := pageTmpl.ExecuteTemplate(&buf, name, d); err != nil {
		return err
	}
	HostedPageHeaders(c)
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	return c.Status(status).Send(buf.Bytes())
}

// pageError renders a refusal the user can read. Errors that are not the
// user's (a bug, the database down) go to the one error handler.
func pageError(c *fiber.Ctx, err error, name string, d pageData) error {
	var de *domain.Error
	if !errors.As(err, &de) || de.Kind == domain.KindInternal || de.Kind == domain.KindUnavailable {
		return err
	}
	status, p := ProblemFor(err)
	d.Message = de.Message
	for _, f := range de.Fields {
		d.Errors = append(d.Errors, f.Message)
	}
	if p.RetryAfter > 0 {
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(p.RetryAfter))
	}
	return renderPage(c, status, name, d)
}

// pageLimit is limitIP for the hosted pages: a browser over the limit gets
// a page it can read, with Retry-After.
func pageLimit(g *limits.Guard, e limits.Endpoint) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if err := g.CheckIP(c.UserContext(), e, ClientIP(c)); err != nil {
			return pageError(c, err, "result.html", pageData{Title: "Too many attempts"})
		}
		return c.Next()
	}
}

// verifyRefused is the verification page's answer to every refused link:
// unknown, expired or used, another registration's link, a wrong password
// or an address verified already all look the same.
const verifyRefused = "This link cannot verify the address with that password. " +
	"Enter the password you chose when you registered, and use the link from the mail of that registration. " +
	"If you registered more than once, use the newest mail; if the link has expired or you no longer know the password, register again or reset your password."

// Answers of the email-change confirmation page.
const (
	confirmNoToken = "This page confirms a new email address with the link mailed to that address. " +
		"Open the link from that mail; if you cannot find it or it has expired, ask for the change again from your account."
	confirmRefused = "This link cannot change the address: it is unknown, expired or already used, or a newer request replaced it. " +
		"Ask for the change again from your account; your current address stays in use until then."
	confirmTaken = "Another account uses this address now, so this account cannot move to it. Your current address stays in use."
)

func pages(a *fiber.App, uc UseCases) {
	a.Get("/verify-email", func(c *fiber.Ctx) error {
		return renderPage(c, fiber.StatusOK, "verify.html", pageData{Title: "Verify your email", Token: c.Query("token")})
	})
	a.Post("/verify-email", pageLimit(uc.Guard, limits.VerifyEmail), func(c *fiber.Ctx) error {
		form, err := DecodeForm(c, "token", "password")
		if err != nil {
			return err
		}
		d := pageData{Title: "Verify your email", Token: form["token"]}
		if _, err := uc.VerifyEmail.Handle(c.UserContext(), form["token"], form["password"], meta(c)); err != nil {
			var de *domain.Error
			if errors.As(err, &de) && de.Kind == domain.KindBadRequest {
				// One answer for every refusal; say what the owner can do.
				d.Token = ""
				return renderPage(c, fiber.StatusBadRequest, "result.html", pageData{Title: d.Title, Message: verifyRefused})
			}
			return pageError(c, err, "result.html", d)
		}
		d.OK, d.Message = true, "Your email address is verified. You can close this page and sign in."
		return renderPage(c, fiber.StatusOK, "result.html", d)
	})
	a.Get("/reset-password", func(c *fiber.Ctx) error {
		return renderPage(c, fiber.StatusOK, "reset.html", pageData{Title: "Choose a new password", Token: c.Query("token")})
	})
	a.Post("/reset-password", pageLimit(uc.Guard, limits.Reset), func(c *fiber.Ctx) error {
		form, err := DecodeForm(c, "token", "password")
		if err != nil {
			return err
		}
		d := pageData{Title: "Choose a new password", Token: form["token"]}
		if err := uc.Reset.Handle(c.UserContext(), form["token"], form["password"], meta(c)); err != nil {
			var de *domain.Error
			if errors.As(err, &de) && de.Kind == domain.KindValidation {
				// Policy errors: show the form again with what to fix.
				return pageError(c, err, "reset.html", d)
			}
			d.Token = ""
			return pageError(c, err, "result.html", d)
		}
		d.OK, d.Token, d.Message = true, "", "Your password was changed and every session was signed out. You can sign in with the new password."
		return renderPage(c, fiber.StatusOK, "result.html", d)
	})
	a.Get("/confirm-email", func(c *fiber.Ctx) error {
		d := pageData{Title: "Confirm your new email address", Token: c.Query("token")}
		if d.Token == "" {
			// No form that could only fail: say where the link is.
			d.Message = confirmNoToken
			return renderPage(c, fiber.StatusOK, "result.html", d)
		}
		return renderPage(c, fiber.StatusOK, "confirm.html", d)
	})
	a.Post("/confirm-email", pageLimit(uc.Guard, limits.VerifyEmail), func(c *fiber.Ctx) error {
		form, err := DecodeForm(c, "token")
		if err != nil {
			return err
		}
		d := pageData{Title: "Confirm your new email address"}
		// A hosted page has no session of its own to keep: every session of
		// the account is signed out.
		u, err := uc.ConfirmEmail.Handle(c.UserContext(), form["token"], uuid.Nil, meta(c))
		if err != nil {
			var de *domain.Error
			if errors.As(err, &de) {
				switch de.Kind {
				case domain.KindBadRequest:
					d.Message = confirmRefused
					return renderPage(c, fiber.StatusBadRequest, "result.html", d)
				case domain.KindConflict:
					d.Message = confirmTaken
					return renderPage(c, fiber.StatusConflict, "result.html", d)
				}
			}
			return pageError(c, err, "result.html", d)
		}
		d.OK, d.Message = true, "Your email address is now "+u.Email().String()+". Every session was signed out; sign in again with the new address."
		return renderPage(c, fiber.StatusOK, "result.html", d)
	})
	a.Get("/forgot-password", func(c *fiber.Ctx) error {
		return renderPage(c, fiber.StatusOK, "forgot.html", pageData{Title: "Reset your password"})
	})
	a.Post("/forgot-password", pageLimit(uc.Guard, limits.Forgot), func(c *fiber.Ctx) error {
		form, err := DecodeForm(c, "email")
		if err != nil {
			return err
		}
		d := pageData{Title: "Reset your password"}
		if err := uc.Forgot.Handle(c.UserContext(), form["email"]); err != nil {
			return pageError(c, err, "forgot.html", d)
		}
		d.OK, d.Message = true, "If an account exists for that address, a link to reset its password is on its way."
		return renderPage(c, fiber.StatusAccepted, "result.html", d)
	})
}
