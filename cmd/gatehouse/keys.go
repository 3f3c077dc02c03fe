package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/gatehouse-auth/gatehouse/adapters/secretbox"
	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/app/keys"
)

const keysUsage = `usage: gatehouse keys <command> [--json]

  list          the signing keys: id (RFC 7638 thumbprint), algorithm, state, times
  rotate        publish a new key of each algorithm (EdDSA, RS256) now; each signs from
                GATEHOUSE_KEY_PUBLISH_DELAY on and the current key of its algorithm is
                then retired (published until its tokens expire)
  retire ID     stop publishing the key ID at once (a compromised key): tokens it signed
                are refused within GATEHOUSE_KEY_REFRESH_INTERVAL; retiring the current
                key of an algorithm makes its next key (or a new one) current at once

EdDSA keys sign access tokens, RS256 keys OpenID Connect id_tokens; each algorithm
has its own current key. Running servers follow every change within
GATEHOUSE_KEY_REFRESH_INTERVAL. With GATEHOUSE_JWT_PRIVATE_KEY_FILE set, the EdDSA
keys are that file's and their rotation is the operator's (see docs/operations.md);
rotate and retire then change the RS256 keys only.
`

// keysArgs parses the flags of a keys command among args and returns the
// positionals. retire takes no flags: its key id, a base64url thumbprint,
// may start with "-", so it is taken as it stands ("--" before it is
// allowed too).
func keysArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	if len(args) > 0 && args[0] == "retire" {
		if len(args) > 1 && args[1] == "--" {
			return append([]string{"retire"}, args[2:]...), nil
		}
		return args, nil
	}
	return parseArgs(fs, args)
}

func keysCommand(ctx context.Context, cfg Config, args []string, p procIO) error {
	if done, err := helpAsked("keys", args, keysUsage, p.stdout); done {
		return err
	}
	fs := newFlagSet("keys", p.stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := keysArgs(fs, args)
	if err != nil {
		return err
	}
	if done, err := helpAsked("keys", pos, keysUsage, p.stdout); done {
		return err
	}
	cmd, rest := pos[0], pos[1:]
	want := map[string]int{"list": 0, "rotate": 0, "retire": 1}
	if err := checkCommand("keys", cmd, rest, want, keysUsage, p.stderr); err != nil {
		return err
	}
	op, cleanup, err := operator(ctx, cfg)
	if err != nil {
		return err
	}
	defer cleanup()
	ring := op.SigningKeys
	switch cmd {
	case "rotate":
		published, err := ring.Rotate(ctx, "cli", app.RequestMeta{})
		if err != nil {
			return err
		}
		if *asJSON {
			return json.NewEncoder(p.stdout).Encode(published)
		}
		for _, k := range published {
			if _, err := fmt.Fprintf(p.stdout, "published %s key %s; it signs from %s\n", k.Alg, k.KID, k.ActivateAt.UTC().Format(time.RFC3339)); err != nil {
				return err
			}
		}
		if cfg.JWTPrivateKeyFile != "" {
			_, err := fmt.Fprintln(p.stdout, "the EdDSA key is GATEHOUSE_JWT_PRIVATE_KEY_FILE's: its rotation is yours (see docs/operations.md)")
			return err
		}
		return nil
	case "retire":
		if err := ring.Retire(ctx, "cli", app.RequestMeta{}, rest[0]); err != nil {
			return err
		}
		_, err := fmt.Fprintf(p.stdout, "retired %s: no longer published\n", rest[0])
		return err
	}
	list, err := ring.List(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		if list == nil {
			list = []keys.KeyView{}
		}
		return json.NewEncoder(p.stdout).Encode(list)
	}
	return printKeys(p.stdout, list)
}

func printKeys(w io.Writer, list []keys.KeyView) error {
	at := func(t *time.Time) string {
		if t == nil {
			return "-"
		}
		return t.UTC().Format(time.RFC3339)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tALG\tSTATE\tSOURCE\tPUBLISHED\tCREATED\tACTIVATES\tACTIVATED\tRETIRED\tPUBLISHED UNTIL")
	for _, k := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%t\t%s\t%s\t%s\t%s\t%s\n", k.KID, k.Alg, k.State, k.Source, k.Published,
			at(k.CreatedAt), at(k.ActivateAt), at(k.ActivatedAt), at(k.RetiredAt), at(k.PublishUntil))
	}
	return tw.Flush()
}

// keygenSecret prints a new secret key for GATEHOUSE_SECRET_KEY_FILE.
func keygenSecret(w io.Writer) error {
	key, err := secretbox.NewKey()
	if err != nil {
		return err
	}
	_, err = io.WriteString(w, secretbox.EncodeKey(key))
	return err
}
