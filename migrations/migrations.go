// Package migrations embeds the versioned SQL migrations (goose format), one
// folder per store with the same version numbers.
package migrations

import (
	"embed"
	"io/fs"
)

//go:embed postgres/*.sql sqlite/*.sql
var files embed.FS

// Postgres holds the PostgreSQL migrations.
var Postgres = sub("postgres")

// SQLite holds the embedded store's migrations.
var SQLite = sub("sqlite")

func sub(dir string) fs.FS {
	f, err := fs.Sub(files, dir)
	if err != nil {
		panic(err) // the folder is embedded above
	}
	return f
}
