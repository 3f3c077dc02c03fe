package sqlstore

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/pressly/goose/v3"
)

// WriteMigrationStatus writes one line per known migration to w: version,
// state (applied or pending), when it was applied, and its file.
func WriteMigrationStatus(w io.Writer, st []*goose.MigrationStatus) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tSTATE\tAPPLIED AT\tMIGRATION")
	for _, s := range st {
		applied := "-"
		if s.State == goose.StateApplied && !s.AppliedAt.IsZero() {
			applied = s.AppliedAt.UTC().Format("2006-01-02 15:04:05Z")
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", s.Source.Version, s.State, applied, s.Source.Path)
	}
	return tw.Flush()
}
