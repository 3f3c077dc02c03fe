package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	httpadapter "github.com/gatehouse-auth/gatehouse/adapters/http"
	"github.com/gatehouse-auth/gatehouse/app/admin"
	appwebhook "github.com/gatehouse-auth/gatehouse/app/webhook"
	"github.com/gatehouse-auth/gatehouse/domain/webhook"
	"github.com/google/uuid"
)

const webhooksUsage = `usage: gatehouse webhooks <command> [flags]

The endpoints that hear of what happens to users and sessions (Standard
Webhooks). Add --json for JSON output (the admin API's shape).

  list                     the endpoints and their latest failed deliveries
  create --url URL --event TYPE [--event TYPE ...]
                           the endpoint's secret is printed once
  delete ID                what was not delivered to it yet never will be
  rotate-secret ID         print a new secret (once); the one before keeps
                           signing beside it for 24 hours

Events: user.created, user.verified, user.email_changed,
user.password_changed, user.disabled, user.enabled, user.deleted,
user.mfa_enabled, user.mfa_disabled, session.created, session.revoked.
`

// webhooksArgs is how many arguments each webhooks command takes.
var webhooksArgs = map[string]int{"list": 0, "create": 0, "delete": 1, "rotate-secret": 1}

func webhooksCommand(ctx context.Context, cfg Config, args []string, p procIO) error {
	cmd, fs, asJSON, err := commandFlags("webhooks", webhooksUsage, args, webhooksArgs, p)
	if fs == nil {
		return err
	}
	var (
		url    *string
		events listFlag
	)
	if cmd == "create" {
		url = fs.String("url", "", "where the deliveries go (http or https)")
		fs.Var(&events, "event", "an event type (repeat for more)")
	}
	pos, op, cleanup, err := commandOperator(ctx, cfg, "webhooks", cmd, fs, args[1:], webhooksArgs, webhooksUsage, p.stderr)
	if err != nil {
		return err
	}
	defer cleanup()
	actor := admin.CLI()
	var id uuid.UUID
	if len(pos) == 1 {
		if id, err = uuid.Parse(pos[0]); err != nil {
			return webhook.ErrNotFound
		}
	}

	switch cmd {
	case "list":
		vs, err := op.Webhooks.List(ctx)
		if err != nil {
			return err
		}
		return printWebhookList(p.stdout, *asJSON, vs)
	case "create":
		types := make([]webhook.Type, len(events.values))
		for i, e := range events.values {
			types[i] = webhook.Type(e)
		}
		e, secret, err := op.Webhooks.Create(ctx, actor, *url, types)
		if err != nil {
			return err
		}
		j := httpadapter.RenderWebhook(appwebhook.View{Endpoint: e}).Webhook
		if *asJSON {
			return writeJSON(p.stdout, map[string]any{"webhook": j, "secret": secret.Reveal()})
		}
		printWebhook(p.stdout, j)
		fmt.Fprintln(p.stderr, "the webhook secret is shown once; store it now")
		_, err = fmt.Fprintf(p.stdout, "secret:      %s\n", secret.Reveal())
		return err
	case "rotate-secret":
		secret, err := op.Webhooks.RotateSecret(ctx, actor, id)
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(p.stdout, map[string]string{"secret": secret.Reveal()})
		}
		// The secret goes to stdout alone, so that it can be captured.
		fmt.Fprintln(p.stderr, "new secret for webhook "+id.String()+"; it is shown once, store it now (the one before keeps signing beside it for 24 hours):")
		_, err = fmt.Fprintln(p.stdout, secret.Reveal())
		return err
	}
	return done(p.stdout, *asJSON, op.Webhooks.Delete(ctx, actor, id), "deleted", id.String())
}

func printWebhook(w io.Writer, j httpadapter.Webhook) {
	fmt.Fprintf(w, "id:          %s\nurl:         %s\nevents:      %s\ncreated_at:  %s\n", j.ID, j.URL, joinWords(j.Events), j.CreatedAt.Format(time.RFC3339))
}

func printWebhookList(w io.Writer, asJSON bool, vs []appwebhook.View) error {
	out := make([]httpadapter.WebhookView, len(vs))
	for i, v := range vs {
		out[i] = httpadapter.RenderWebhook(v)
	}
	if asJSON {
		return writeJSON(w, map[string]any{"webhooks": out})
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tURL\tEVENTS\tCREATED\tRECENT FAILURES")
	for _, v := range out {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\n", v.ID, v.URL, joinWords(v.Events), v.CreatedAt.Format(time.RFC3339), len(v.RecentFailures))
		for _, f := range v.RecentFailures {
			fmt.Fprintf(tw, "\t  %s %s %s: %s\t\t\t\n", f.At.Format(time.RFC3339), f.Event, f.MessageID, f.Error)
		}
	}
	return tw.Flush()
}
