package http

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/app/limits"
	appupstream "github.com/gatehouse-auth/gatehouse/app/upstream"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/upstream"
	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
)

// The use cases of upstream sign-in: the round trip of the hosted pages,
// and the signed-in user's identities in the JSON API.
type (
	UpstreamSignIn interface {
		Providers() []appupstream.Provider
		Begin(ctx context.Context, in appupstream.BeginInput) (appupstream.Begun, error)
		Callback(ctx context.Context, in appupstream.CallbackInput) (*appupstream.Result, error)
	}
	IdentityList interface {
		Handle(ctx context.Context, userID uuid.UUID) ([]appupstream.IdentityView, error)
	}
	IdentityUnlink interface {
		Handle(ctx context.Context, userID, id uuid.UUID, meta app.RequestMeta) error
	}
)

// The upstream round trip: GET /sign-in/upstream/{id} stores a flow and
// sends the browser to the provider, holding the flow's state in a cookie
// of its own (upstreamCookie: HttpOnly, SameSite=Lax so that the
// provider's redirect back carries it, __Host- on https, living as long
// as a flow); GET /sign-in/upstream/{id}/callback takes the browser back,
// and refuses a state that is not the one this browser holds (login
// CSRF). Each provider has its own callback, and a flow is answered only
// at its provider's (mix-up). Begun while signed in (and not for a
// pending authorization request), the round trip links the identity to
// the signed-in user. Each start counts against the per-IP limit of
// /v1/login.
const upstreamCookie = "gatehouse_upstream"

// upstreamRoot climbs from a callback page (/sign-in/upstream/{id}/callback)
// back to the root, where every other page is; startRoot from the start
// page (/sign-in/upstream/{id}).
const (
	upstreamRoot = "../../../"
	startRoot    = "../../"
)

func (p *pageHandlers) registerUpstreamRoutes(a *fiber.App) {
	a.Get("/sign-in/upstream/:id", p.handleUpstreamStart)
	a.Get("/sign-in/upstream/:id/callback", p.handleUpstreamCallback)
}

// providerLinks are the sign-in page's "Continue with NAME" links, for
// the pending authorization request pending when it is not "".
func (p *pageSite) providerLinks(pending, verb string) []pageLink {
	var out []pageLink
	for _, pr := range p.providers {
		href := "./sign-in/upstream/" + pr.ID
		if pending != "" {
			href += "?" + pendingParam + "=" + pending
		}
		out = append(out, pageLink{Href: href, Text: verb + " " + pr.Name})
	}
	return out
}

func (p *pageHandlers) handleUpstreamStart(c *fiber.Ctx) error {
	pending := pendingID(c.Query(pendingParam))
	d := pageData{Title: titleSignIn, Links: []pageLink{{Href: startRoot + "sign-in", Text: "Go to the sign-in page"}}}
	if err := p.checkIP(c, limits.Login); err != nil {
		return p.pageError(c, err, "result.html", d)
	}
	in := appupstream.BeginInput{Provider: strings.Clone(c.Params("id"))}
	if pending != "" {
		in.Pending = uuid.MustParse(pending)
	} else {
		pr, ok, err := p.signedIn(c)
		if err != nil {
			return err
		}
		if ok {
			in.LinkTo = pr.UserID
		}
	}
	b, err := p.uc.Upstream.Begin(c.UserContext(), in)
	if errors.Is(err, upstream.ErrUnknownProvider) {
		d.Title, d.Message = "Unknown sign-in provider", "There is no sign-in provider at this address. Go back to the sign-in page and choose one it lists."
		return p.render(c, fiber.StatusNotFound, "result.html", d)
	}
	if err != nil {
		return p.pageError(c, err, "result.html", d)
	}
	p.setCookie(c, upstreamCookie, b.State.Reveal(), fiber.CookieSameSiteLaxMode, upstream.FlowTTL)
	HostedPageHeaders(c)
	return c.Redirect(b.URL, fiber.StatusSeeOther)
}

func (p *pageHandlers) handleUpstreamCallback(c *fiber.Ctx) error {
	id := strings.Clone(c.Params("id"))
	held := c.Cookies(p.cookieName(upstreamCookie))
	p.setCookie(c, upstreamCookie, "", fiber.CookieSameSiteLaxMode, -1)
	res, err := p.uc.Upstream.Callback(c.UserContext(), appupstream.CallbackInput{
		Provider: id, State: c.Query("state"), BrowserState: held, Code: c.Query("code"), Error: c.Query("error"), Meta: meta(c),
	})
	if err != nil {
		return p.upstreamRefused(c, id, err)
	}
	pending := ""
	if res.Pending != uuid.Nil {
		pending = res.Pending.String()
	}
	switch res.Outcome {
	case appupstream.Linked:
		return p.render(c, fiber.StatusOK, "result.html", pageData{Title: "Identity linked", OK: true,
			Message: "Your " + res.Provider + " identity (" + res.Email + ") is linked to your account: you can now sign in with it.",
			Links:   []pageLink{{Href: upstreamRoot + "sign-in", Text: "Back to the sign-in page"}}, Continue: true})
	case appupstream.VerifyMailSent:
		return p.render(c, fiber.StatusAccepted, "result.html", pageData{Title: "Check your mail", OK: true,
			Message: "We made an account for " + res.Email + " and sent a mail to that address. Open the link in it to verify the address; " +
				"then choose Continue with " + res.Provider + " again. The account cannot be used until the address is verified. " +
				"It has no password: sign in with " + res.Provider + ", or set a password through \"Forgot your password?\".",
			Links: []pageLink{{Href: upstreamRoot + "sign-in", Text: "Go to the sign-in page"}, {Href: upstreamRoot + "resend-verification", Text: toResend.Text}}})
	}
	if res.Login.MFARequired() {
		return p.render(c, fiber.StatusOK, "signin-code.html", pageData{Title: titleCode, Token: res.Login.MFAToken.Reveal(), Pending: pending, Root: upstreamRoot})
	}
	return p.startBrowserSessionAt(c, res.Login.TokenPair, pending, upstreamRoot)
}

// upstreamRefused is the page of a callback that signs nobody in: what
// happened, and what to do instead.
func (p *pageHandlers) upstreamRefused(c *fiber.Ctx, id string, err error) error {
	name := id
	for _, pr := range p.providers {
		if pr.ID == id {
			name = pr.Name
		}
	}
	toSignIn := pageLink{Href: upstreamRoot + "sign-in", Text: "Go to the sign-in page"}
	d := pageData{Title: "Sign-in not completed", Links: []pageLink{toSignIn}}
	status := fiber.StatusBadRequest
	switch {
	case errors.Is(err, upstream.ErrUnknownProvider):
		d.Title, d.Message, status = "Unknown sign-in provider", "There is no sign-in provider at this address. Go back to the sign-in page and choose one it lists.", fiber.StatusNotFound
	case errors.Is(err, upstream.ErrFlowInvalid):
		d.Message = "This sign-in expired, was already completed, or was started in another browser or tab, so nothing was done. Start again from the sign-in page."
	case errors.Is(err, upstream.ErrNotVerified):
		d.Message, status = "The answer of "+name+" could not be verified, so nothing was done. Start again from the sign-in page.", fiber.StatusUnauthorized
	case errors.Is(err, upstream.ErrNoEmail):
		d.Message = name + " did not tell us an email address for your account there. Add or verify an address at " + name + ", or sign in another way."
	case errors.Is(err, upstream.ErrLinkFirst):
		d.Title, status = "Sign in to link this identity", fiber.StatusConflict
		d.Message = "An account with the address your " + name + " account has exists here already. To use " + name + " with it, " +
			"first sign in to that account with its password or a passkey, then choose Continue with " + name + " while signed in: " +
			"your " + name + " identity is then linked to it, and signs you in from then on."
		d.Links = []pageLink{toSignIn, {Href: upstreamRoot + "forgot-password", Text: "Forgot the account's password? Reset it"}}
	case errors.Is(err, upstream.ErrVerifyFirst):
		d.Title, status = "Verify your address first", fiber.StatusForbidden
		d.Message = "This account's address is not verified yet. Open the link in the verification mail, then choose Continue with " + name + " again."
		d.Links = []pageLink{{Href: upstreamRoot + "resend-verification", Text: toResend.Text}, toSignIn}
	case errors.Is(err, upstream.ErrIdentityTaken):
		d.Message, status = "This "+name+" identity is linked to another account here. Sign out and continue with "+name+" to sign in to that account.", fiber.StatusConflict
	default:
		var de *domain.Error
		if errors.As(err, &de) && de.Code == "upstream_refused" {
			d.Message = de.Message + " Start again from the sign-in page, or sign in another way."
			break
		}
		return p.pageError(c, err, "result.html", d)
	}
	return p.render(c, status, "result.html", d)
}

// registerIdentityRoutes registers the signed-in user's upstream
// identities.
func (h *handlers) registerIdentityRoutes(v1 fiber.Router) {
	v1.Get("/me/identities", h.auth, h.handleIdentityList)
	v1.Delete("/me/identities/:id", h.auth, firstParty, h.handleIdentityUnlink)
}

func (h *handlers) handleIdentityList(c *fiber.Ctx) error {
	return reply(c, func(c *fiber.Ctx, ids []appupstream.IdentityView) error {
		return c.JSON(fiber.Map{"identities": renderAll(ids, renderIdentity)})
	})(h.uc.Identities.Handle(c.UserContext(), principal(c).UserID))
}

func (h *handlers) handleIdentityUnlink(c *fiber.Ctx) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	return noContent(c, h.uc.Unlink.Handle(c.UserContext(), principal(c).UserID, id, meta(c)))
}

type identityResponse struct {
	ID           string     `json:"id"`
	Provider     string     `json:"provider"`
	ProviderName string     `json:"provider_name"`
	Email        string     `json:"email"`
	CreatedAt    time.Time  `json:"created_at"`
	LastUsedAt   *time.Time `json:"last_used_at"`
}

func renderIdentity(i appupstream.IdentityView) identityResponse {
	r := identityResponse{ID: i.ID().String(), Provider: i.Provider(), ProviderName: i.ProviderName, Email: i.Email(), CreatedAt: i.CreatedAt().UTC()}
	if at := i.LastUsedAt(); at != nil {
		u := at.UTC()
		r.LastUsedAt = &u
	}
	return r
}
