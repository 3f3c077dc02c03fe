package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	httpadapter "github.com/gatehouse-auth/gatehouse/adapters/http"
	"github.com/gatehouse-auth/gatehouse/app/admin"
	gwire "github.com/gatehouse-auth/gatehouse/wire"
	"go.uber.org/zap"
)

const usersUsage = `usage: gatehouse users <command> [flags]

A user is named by its id or its email address. Add --json for JSON output.

  list [--email PREFIX] [--limit N] [--cursor C]   newest first
  show USER
  create EMAIL [--verified] [--password-stdin]      without --password-stdin: an invitation
                                                    mail with a set-password link
  disable USER                                      and revoke every session
  enable USER
  delete USER                                       the account and all it holds but its audit trail
  verify USER                                       mark the address verified
  unlock USER                                       lift a lockout, clear failed-login counts
  disable-mfa USER                                  turn two-factor login off (a lost authenticator);
                                                    the owner is mailed and can enroll again
  revoke-sessions USER

Mail (invitations) is queued in the database and sent by the running server.
`

const adminKeysUsage = `usage: gatehouse admin-keys <command>

  create NAME    make a key for the admin API and print it (shown once)
  list           names and times, never keys
  revoke NAME    the key stops working at once
`

// operator assembles the operators' use cases on the configured store.
func operator(ctx context.Context, cfg Config) (*gwire.Operator, func(), error) {
	build := gwire.BuildPostgresOperator
	if cfg.store.Kind == storeSQLite {
		build = gwire.BuildSQLiteOperator
	}
	return build(ctx, wireConfig(cfg), zap.NewNop())
}

// parseArgs parses flags wherever they stand among the positional
// arguments and returns the positionals.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// userJSON is a user as the command line prints it: the admin API's
// shape.
type userJSON = httpadapter.AdminUser

// printUsers prints users as the admin API shows them: as its JSON with
// asJSON, else as a table.
func printUsers(w io.Writer, asJSON bool, views []admin.UserView, next string) error {
	if asJSON {
		out := make([]userJSON, 0, len(views))
		for _, v := range views {
			out = append(out, httpadapter.RenderAdminUser(v))
		}
		var cursor *string
		if next != "" {
			cursor = &next
		}
		return writeJSON(w, map[string]any{"users": out, "next_cursor": cursor})
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tEMAIL\tVERIFIED\tDISABLED\tLOCKED\tSESSIONS\tLAST LOGIN\tCREATED")
	for _, v := range views {
		j := httpadapter.RenderAdminUser(v)
		last := "-"
		if j.LastLoginAt != nil {
			last = j.LastLoginAt.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%t\t%t\t%t\t%d\t%s\t%s\n", j.ID, j.Email, j.EmailVerified, j.Disabled, j.Locked, j.ActiveSessions, last, j.CreatedAt.Format(time.RFC3339))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if next != "" {
		_, err := fmt.Fprintf(w, "more: --cursor %s\n", next)
		return err
	}
	return nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func usersCommand(ctx context.Context, cfg Config, args []string, p procIO) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(p.stdout, usersUsage)
		if len(args) == 0 {
			return errors.New("no users command given")
		}
		return nil
	}
	fs := flag.NewFlagSet("users "+args[0], flag.ContinueOnError)
	fs.SetOutput(p.stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	email := fs.String("email", "", "list: a prefix of the address")
	limit := fs.Int("limit", admin.DefaultLimit, "list: page size (1..200)")
	cursor := fs.String("cursor", "", "list: the next_cursor of the previous page")
	verified := fs.Bool("verified", false, "create: mark the address verified")
	pwStdin := fs.Bool("password-stdin", false, "create: read the password from the first line of stdin")
	pos, err := parseArgs(fs, args[1:])
	if err != nil {
		return err
	}
	cmd := args[0]
	wantArgs := 1
	if cmd == "list" {
		wantArgs = 0
	}
	if len(pos) != wantArgs {
		fmt.Fprint(p.stderr, usersUsage)
		return fmt.Errorf("users %s: want %d argument(s), got %d", cmd, wantArgs, len(pos))
	}
	op, cleanup, err := operator(ctx, cfg)
	if err != nil {
		return err
	}
	defer cleanup()
	actor := admin.CLI()

	switch cmd {
	case "list":
		in := admin.ListInput{Email: *email, Cursor: *cursor}
		fs.Visit(func(f *flag.Flag) {
			if f.Name == "limit" {
				in.Limit = limit
			}
		})
		views, next, err := op.Users.List(ctx, in)
		if err != nil {
			return err
		}
		return printUsers(p.stdout, *asJSON, views, next)
	case "create":
		in := admin.CreateInput{Email: pos[0], EmailVerified: *verified}
		if *pwStdin {
			line, err := bufio.NewReader(p.stdin).ReadString('\n')
			if err != nil && !errors.Is(err, io.EOF) {
				return err
			}
			if in.Password = strings.TrimRight(line, "\r\n"); in.Password == "" {
				return errors.New("users create: --password-stdin read an empty password")
			}
		}
		v, err := op.Users.Create(ctx, actor, in)
		if err != nil {
			return err
		}
		return printUsers(p.stdout, *asJSON, []admin.UserView{v}, "")
	}

	v, err := op.Users.Find(ctx, pos[0])
	if err != nil {
		return err
	}
	id := v.User.ID()
	yes, no := true, false
	switch cmd {
	case "show":
	case "disable":
		v, err = op.Users.Update(ctx, actor, id, admin.Patch{Disabled: &yes})
	case "enable":
		v, err = op.Users.Update(ctx, actor, id, admin.Patch{Disabled: &no})
	case "verify":
		v, err = op.Users.Update(ctx, actor, id, admin.Patch{EmailVerified: &yes})
	case "disable-mfa":
		v, err = op.Users.Update(ctx, actor, id, admin.Patch{MFAEnabled: &no})
	case "delete":
		if err := op.Users.Delete(ctx, actor, id); err != nil {
			return err
		}
		return done(p.stdout, *asJSON, "deleted", id.String())
	case "unlock":
		if err := op.Users.Unlock(ctx, actor, id); err != nil {
			return err
		}
		return done(p.stdout, *asJSON, "unlocked", id.String())
	case "revoke-sessions":
		n, err := op.Users.RevokeSessions(ctx, actor, id)
		if err != nil {
			return err
		}
		return done(p.stdout, *asJSON, "sessions_revoked", strconv.Itoa(n))
	default:
		fmt.Fprint(p.stderr, usersUsage)
		return fmt.Errorf("unknown users command %q", cmd)
	}
	if err != nil {
		return err
	}
	return printUsers(p.stdout, *asJSON, []admin.UserView{v}, "")
}

// done reports a change that returns no user.
func done(w io.Writer, asJSON bool, what, value string) error {
	if asJSON {
		return writeJSON(w, map[string]string{what: value})
	}
	_, err := fmt.Fprintf(w, "%s: %s\n", what, value)
	return err
}

func adminKeysCommand(ctx context.Context, cfg Config, args []string, p procIO) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(p.stdout, adminKeysUsage)
		if len(args) == 0 {
			return errors.New("no admin-keys command given")
		}
		return nil
	}
	cmd, rest := args[0], args[1:]
	want := map[string]int{"create": 1, "list": 0, "revoke": 1}
	n, ok := want[cmd]
	if !ok || len(rest) != n {
		fmt.Fprint(p.stderr, adminKeysUsage)
		return fmt.Errorf("admin-keys %s: wrong command or arguments", cmd)
	}
	op, cleanup, err := operator(ctx, cfg)
	if err != nil {
		return err
	}
	defer cleanup()
	switch cmd {
	case "create":
		key, err := op.Keys.Create(ctx, admin.CLI(), rest[0])
		if err != nil {
			return err
		}
		// The key goes to stdout alone, so that it can be captured; the
		// advice to stderr.
		fmt.Fprintln(p.stderr, "admin key "+rest[0]+" made; it is shown once, store it now:")
		_, err = fmt.Fprintln(p.stdout, key.Reveal())
		return err
	case "revoke":
		if err := op.Keys.Revoke(ctx, admin.CLI(), rest[0]); err != nil {
			return err
		}
		_, err := fmt.Fprintf(p.stdout, "revoked: %s\n", rest[0])
		return err
	}
	keys, err := op.Keys.List(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(p.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tCREATED\tREVOKED")
	for _, k := range keys {
		revoked := "-"
		if k.RevokedAt != nil {
			revoked = k.RevokedAt.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", k.Name, k.CreatedAt.UTC().Format(time.RFC3339), revoked)
	}
	return tw.Flush()
}
