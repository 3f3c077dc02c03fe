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
  import FILE                                       users with their password hashes, from JSON lines:
                                                    {"email", "email_verified", "password_hash", "created_at"};
                                                    addresses already taken are skipped, so a rerun resumes;
                                                    failures are listed by line
  export FILE                                       every user with the stored hash, in the same format
                                                    (a new file, mode 0600)

Mail (invitations) is queued in the database and sent by the running server.
`

const adminKeysUsage = `usage: gatehouse admin-keys <command>

  create NAME    make a key for the admin API and print it (shown once)
  list           names and times, never keys
  revoke NAME    the key stops working at once
`

// operator assembles the operators' use cases on the configured store;
// the cleanup closes the store.
func operator(ctx context.Context, cfg Config) (*gwire.Operator, func(), error) {
	wc, err := wireConfig(cfg)
	if err != nil {
		return nil, nil, err
	}
	log := zap.NewNop()
	a := cfg.storage(0, log)
	st, key, err := openStoreAndKey(ctx, cfg, a, log)
	if err != nil {
		return nil, nil, err
	}
	op, err := gwire.BuildOperator(ctx, wc, st, key, log)
	if err != nil {
		st.Close()
		return nil, nil, a.Explain(err)
	}
	return op, st.Close, nil
}

// helpAsked prints usage to stdout when args ask for help, or name no
// command (an error).
func helpAsked(group string, args []string, usage string, stdout io.Writer) (bool, error) {
	if len(args) == 0 {
		fmt.Fprint(stdout, usage)
		return true, fmt.Errorf("no %s command given", group)
	}
	if args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(stdout, usage)
		return true, nil
	}
	return false, nil
}

// checkCommand refuses, with usage on stderr, a command of group that want
// does not list or that has another number of arguments than it says.
func checkCommand(group, cmd string, args []string, want map[string]int, usage string, stderr io.Writer) error {
	n, known := want[cmd]
	if known && len(args) == n {
		return nil
	}
	fmt.Fprint(stderr, usage)
	if !known {
		return fmt.Errorf("unknown %s command %q", group, cmd)
	}
	return fmt.Errorf("%s %s: want %d argument(s), got %d", group, cmd, n, len(args))
}

// commandOperator parses the flags of fs (nil: the command takes none)
// among args, checks the command of group as checkCommand does, then
// assembles the operators' use cases for it. It returns the positional
// arguments; the cleanup closes the store.
func commandOperator(ctx context.Context, cfg Config, group, cmd string, fs *flag.FlagSet, args []string, want map[string]int, usage string, stderr io.Writer) ([]string, *gwire.Operator, func(), error) {
	pos := args
	if fs != nil {
		var err error
		if pos, err = parseArgs(fs, args); err != nil {
			return nil, nil, nil, err
		}
	}
	if err := checkCommand(group, cmd, pos, want, usage, stderr); err != nil {
		return nil, nil, nil, err
	}
	op, cleanup, err := operator(ctx, cfg)
	return pos, op, cleanup, err
}

// commandFlags starts a command of group that takes flags: usage on
// stdout for help or no command (fs nil, err for no command), an unknown
// command refused; else the command and its own flag set, with --json.
func commandFlags(group, usage string, args []string, known map[string]int, p procIO) (cmd string, fs *flag.FlagSet, asJSON *bool, err error) {
	if done, err := helpAsked(group, args, usage, p.stdout); done {
		return "", nil, nil, err
	}
	cmd = args[0]
	if _, ok := known[cmd]; !ok {
		fmt.Fprint(p.stderr, usage)
		return "", nil, nil, fmt.Errorf("unknown %s command %q", group, cmd)
	}
	// Each command has its own flags: one it does not take is refused.
	fs = newFlagSet(group+" "+cmd, p.stderr)
	return cmd, fs, fs.Bool("json", false, "print JSON"), nil
}

// newFlagSet is the flag set of one subcommand: a flag it does not define
// is a usage error, written to stderr.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
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

// joinWords is a list of words (grant types, event types) as the commands
// print it: separated by spaces.
func joinWords[W ~string](ws []W) string {
	s := make([]string, len(ws))
	for i, w := range ws {
		s[i] = string(w)
	}
	return strings.Join(s, " ")
}

// usersArgs is how many arguments each users command takes.
var usersArgs = map[string]int{
	"list": 0, "show": 1, "create": 1, "disable": 1, "enable": 1, "delete": 1,
	"verify": 1, "unlock": 1, "disable-mfa": 1, "revoke-sessions": 1,
	"import": 1, "export": 1,
}

func usersCommand(ctx context.Context, cfg Config, args []string, p procIO) error {
	cmd, fs, asJSON, err := commandFlags("users", usersUsage, args, usersArgs, p)
	if fs == nil {
		return err
	}
	var (
		email, cursor     *string
		limit             *int
		verified, pwStdin *bool
	)
	switch cmd {
	case "list":
		email = fs.String("email", "", "a prefix of the address")
		limit = fs.Int("limit", admin.DefaultLimit, "page size (1..200)")
		cursor = fs.String("cursor", "", "the next_cursor of the previous page")
	case "create":
		verified = fs.Bool("verified", false, "mark the address verified")
		pwStdin = fs.Bool("password-stdin", false, "read the password from the first line of stdin")
	}
	pos, op, cleanup, err := commandOperator(ctx, cfg, "users", cmd, fs, args[1:], usersArgs, usersUsage, p.stderr)
	if err != nil {
		return err
	}
	defer cleanup()
	actor := admin.CLI()

	switch cmd {
	case "import":
		return importUsers(ctx, op, pos[0], *asJSON, p)
	case "export":
		return exportUsers(ctx, op, pos[0], p)
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
		return done(p.stdout, *asJSON, op.Users.Delete(ctx, actor, id), "deleted", id.String())
	case "unlock":
		return done(p.stdout, *asJSON, op.Users.Unlock(ctx, actor, id), "unlocked", id.String())
	case "revoke-sessions":
		n, err := op.Users.RevokeSessions(ctx, actor, id)
		return done(p.stdout, *asJSON, err, "sessions_revoked", strconv.Itoa(n))
	}
	if err != nil {
		return err
	}
	return printUsers(p.stdout, *asJSON, []admin.UserView{v}, "")
}

// done reports a change that returns no user, or err when it failed.
func done(w io.Writer, asJSON bool, err error, what, value string) error {
	if err != nil {
		return err
	}
	if asJSON {
		return writeJSON(w, map[string]string{what: value})
	}
	_, err = fmt.Fprintf(w, "%s: %s\n", what, value)
	return err
}

func adminKeysCommand(ctx context.Context, cfg Config, args []string, p procIO) error {
	if done, err := helpAsked("admin-keys", args, adminKeysUsage, p.stdout); done {
		return err
	}
	cmd, rest := args[0], args[1:]
	want := map[string]int{"create": 1, "list": 0, "revoke": 1}
	_, op, cleanup, err := commandOperator(ctx, cfg, "admin-keys", cmd, nil, rest, want, adminKeysUsage, p.stderr)
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
		return done(p.stdout, false, op.Keys.Revoke(ctx, admin.CLI(), rest[0]), "revoked", rest[0])
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
