package postgres_test

import (
	"bytes"
	"context"
	"io/fs"
	"strings"
	"sync"
	"testing"

	"github.com/gatehouse-auth/gatehouse/adapters/postgres"
	"github.com/gatehouse-auth/gatehouse/adapters/postgres/pgtest"
	"github.com/gatehouse-auth/gatehouse/migrations"
)

func TestMigrateUpTwiceIsNoop(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := pgtest.URL(t) // already migrated by pgtest
	if err := postgres.MigrateUp(ctx, url); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := postgres.MigrateStatus(ctx, url, &buf); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), "pending") || strings.Count(buf.String(), "applied") != migrationCount(t) {
		t.Fatalf("status:\n%s", buf.String())
	}
}

func TestMigrateConcurrentOnFreshDatabase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := pgtest.NewEmptyDatabase(t)

	var buf bytes.Buffer
	if err := postgres.MigrateStatus(ctx, url, &buf); err != nil {
		t.Fatal(err)
	}
	if strings.Count(buf.String(), "pending") != migrationCount(t) {
		t.Fatalf("fresh status:\n%s", buf.String())
	}

	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			if err := postgres.MigrateUp(ctx, url); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	status := func() string {
		t.Helper()
		var buf bytes.Buffer
		if err := postgres.MigrateStatus(ctx, url, &buf); err != nil {
			t.Fatal(err)
		}
		return buf.String()
	}
	n := migrationCount(t)
	if s := status(); strings.Count(s, "applied") != n {
		t.Fatalf("after concurrent up:\n%s", s)
	}

	if err := postgres.MigrateDown(ctx, url); err != nil {
		t.Fatal(err)
	}
	s := status()
	if strings.Count(s, "applied") != n-1 || strings.Count(s, "pending") != 1 {
		t.Fatalf("after one down:\n%s", s)
	}
	if err := postgres.MigrateUp(ctx, url); err != nil {
		t.Fatal(err)
	}
	if s := status(); strings.Count(s, "applied") != n {
		t.Fatalf("after up again:\n%s", s)
	}
}

// migrationCount is the number of embedded migrations.
func migrationCount(t *testing.T) int {
	t.Helper()
	files, err := fs.Glob(migrations.Postgres, "*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("embedded migrations: %v", err)
	}
	return len(files)
}
