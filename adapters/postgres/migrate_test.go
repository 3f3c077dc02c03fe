package postgres_test

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/gatehouse-auth/gatehouse/adapters/postgres"
	"github.com/gatehouse-auth/gatehouse/adapters/postgres/pgtest"
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
	if strings.Contains(buf.String(), "pending") || strings.Count(buf.String(), "applied") != 3 {
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
	if strings.Count(buf.String(), "pending") != 3 {
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
	if s := status(); strings.Count(s, "applied") != 3 {
		t.Fatalf("after concurrent up:\n%s", s)
	}

	if err := postgres.MigrateDown(ctx, url); err != nil {
		t.Fatal(err)
	}
	s := status()
	if strings.Count(s, "applied") != 2 || !strings.Contains(s, "pending") || !strings.Contains(s, "00003_outbox_audit_keys_limits.sql") {
		t.Fatalf("after one down:\n%s", s)
	}
	if err := postgres.MigrateUp(ctx, url); err != nil {
		t.Fatal(err)
	}
	if s := status(); strings.Count(s, "applied") != 3 {
		t.Fatalf("after up again:\n%s", s)
	}
}
