package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	httpadapter "github.com/gatehouse-auth/gatehouse/adapters/http"
	"github.com/gatehouse-auth/gatehouse/app/admin"
	oidcclient "github.com/gatehouse-auth/gatehouse/domain/client"
	"github.com/gatehouse-auth/gatehouse/domain/signingkey"
)

const clientsUsage = `usage: gatehouse clients <command> [flags]

The applications that sign users in (OpenID Connect clients). Add --json
for JSON output (the admin API's shape).

  list
  show CLIENT_ID
  create --name NAME --type public|confidential [settings]
                           a confidential client's secret is printed once
  update CLIENT_ID [settings]
                           only the settings given change
  delete CLIENT_ID         nothing the client presents is accepted any more
  rotate-secret CLIENT_ID  print a new secret (once); the one before stops working

Settings (a list flag repeats; given once as "" it empties the list):
  --redirect-uri URI                where users come back after signing in
  --post-logout-redirect-uri URI    where they may go after signing out
  --grant-type authorization_code|refresh_token|client_credentials
                                    default: authorization_code and refresh_token
  --scope openid|email|profile|offline_access
                                    default: all four
  --consent[=false]                 ask users to consent to the scopes
  --id-token-alg RS256|EdDSA        default RS256
  --name NAME
`

// clientsArgs is how many arguments each clients command takes.
var clientsArgs = map[string]int{"list": 0, "show": 1, "create": 0, "update": 1, "delete": 1, "rotate-secret": 1}

// listFlag is a repeatable flag; set is whether it was given at all.
type listFlag struct {
	values []string
	set    bool
}

func (l *listFlag) String() string { return strings.Join(l.values, ",") }

func (l *listFlag) Set(v string) error {
	l.set = true
	if v != "" {
		l.values = append(l.values, v)
	}
	return nil
}

// get is the list when the flag was given (empty when given only as "").
func (l *listFlag) get() *[]string {
	if !l.set {
		return nil
	}
	v := append([]string{}, l.values...)
	return &v
}

// clientFlags define the settings flags on fs; settings then reads what
// was given.
func clientFlags(fs *flag.FlagSet) func() oidcclient.Settings {
	var redirects, logouts, grants, scopes listFlag
	fs.Var(&redirects, "redirect-uri", "a redirect URI (repeat for more)")
	fs.Var(&logouts, "post-logout-redirect-uri", "a post-logout redirect URI (repeat for more)")
	fs.Var(&grants, "grant-type", "a grant type (repeat for more)")
	fs.Var(&scopes, "scope", "a scope (repeat for more)")
	name := fs.String("name", "", "the name users see")
	typ := fs.String("type", "", "public or confidential (at registration)")
	consent := fs.Bool("consent", false, "ask users to consent")
	alg := fs.String("id-token-alg", "", "RS256 or EdDSA")
	return func() oidcclient.Settings {
		s := oidcclient.Settings{RedirectURIs: redirects.get(), PostLogoutRedirectURIs: logouts.get(), Scopes: scopes.get()}
		if g := grants.get(); g != nil {
			gs := make([]oidcclient.Grant, len(*g))
			for i, v := range *g {
				gs[i] = oidcclient.Grant(v)
			}
			s.GrantTypes = &gs
		}
		fs.Visit(func(f *flag.Flag) {
			switch f.Name {
			case "name":
				s.Name = name
			case "type":
				t := oidcclient.Type(*typ)
				s.Type = &t
			case "consent":
				s.Consent = consent
			case "id-token-alg":
				a := signingkey.Algorithm(*alg)
				s.IDTokenAlg = &a
			}
		})
		return s
	}
}

func clientsCommand(ctx context.Context, cfg Config, args []string, p procIO) error {
	cmd, fs, asJSON, err := commandFlags("clients", clientsUsage, args, clientsArgs, p)
	if fs == nil {
		return err
	}
	var settings func() oidcclient.Settings
	if cmd == "create" || cmd == "update" {
		settings = clientFlags(fs)
	}
	pos, op, cleanup, err := commandOperator(ctx, cfg, "clients", cmd, fs, args[1:], clientsArgs, clientsUsage, p.stderr)
	if err != nil {
		return err
	}
	defer cleanup()
	actor := admin.CLI()

	switch cmd {
	case "list":
		cs, err := op.Clients.List(ctx)
		if err != nil {
			return err
		}
		return printClientList(p.stdout, *asJSON, cs)
	case "create":
		c, secret, err := op.Clients.Create(ctx, actor, settings())
		if err != nil {
			return err
		}
		if *asJSON {
			out := map[string]any{"client": httpadapter.RenderClient(c)}
			if secret != "" {
				out["client_secret"] = secret.Reveal()
			}
			return writeJSON(p.stdout, out)
		}
		if err := printClient(p.stdout, c); err != nil || secret == "" {
			return err
		}
		fmt.Fprintln(p.stderr, "the client secret is shown once; store it now")
		_, err = fmt.Fprintf(p.stdout, "client_secret:  %s\n", secret.Reveal())
		return err
	case "rotate-secret":
		secret, err := op.Clients.RotateSecret(ctx, actor, pos[0])
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(p.stdout, map[string]string{"client_secret": secret.Reveal()})
		}
		// The secret goes to stdout alone, so that it can be captured.
		fmt.Fprintln(p.stderr, "new secret for client "+pos[0]+"; it is shown once, store it now (the one before no longer works):")
		_, err = fmt.Fprintln(p.stdout, secret.Reveal())
		return err
	case "delete":
		return done(p.stdout, *asJSON, op.Clients.Delete(ctx, actor, pos[0]), "deleted", pos[0])
	}
	var c *oidcclient.Client
	if cmd == "show" {
		c, err = op.Clients.Get(ctx, pos[0])
	} else {
		c, err = op.Clients.Update(ctx, actor, pos[0], settings())
	}
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(p.stdout, map[string]any{"client": httpadapter.RenderClient(c)})
	}
	return printClient(p.stdout, c)
}

// printClient prints one client, a setting a line.
func printClient(w io.Writer, c *oidcclient.Client) error {
	j := httpadapter.RenderClient(c)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, row := range [][2]string{
		{"client_id", j.ClientID}, {"name", j.Name}, {"type", string(j.Type)},
		{"redirect_uris", strings.Join(j.RedirectURIs, " ")},
		{"post_logout_redirect_uris", strings.Join(j.PostLogoutRedirectURIs, " ")},
		{"grant_types", joinWords(j.GrantTypes)}, {"scopes", strings.Join(j.Scopes, " ")},
		{"consent", fmt.Sprint(j.Consent)}, {"id_token_signed_response_alg", string(j.IDTokenAlg)},
		{"token_endpoint_auth_method", j.TokenEndpointAuthMethod},
		{"created_at", j.CreatedAt.Format(time.RFC3339)}, {"updated_at", j.UpdatedAt.Format(time.RFC3339)},
	} {
		fmt.Fprintf(tw, "%s:\t%s\n", row[0], row[1])
	}
	return tw.Flush()
}

func printClientList(w io.Writer, asJSON bool, cs []*oidcclient.Client) error {
	if asJSON {
		out := make([]httpadapter.Client, 0, len(cs))
		for _, c := range cs {
			out = append(out, httpadapter.RenderClient(c))
		}
		return writeJSON(w, map[string]any{"clients": out})
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CLIENT ID\tNAME\tTYPE\tGRANTS\tREDIRECT URIS\tCREATED")
	for _, c := range cs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", c.ID, c.Name, c.Type, joinWords(c.GrantTypes), strings.Join(c.RedirectURIs, " "), c.CreatedAt.UTC().Format(time.RFC3339))
	}
	return tw.Flush()
}
