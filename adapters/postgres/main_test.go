package postgres_test

import (
	"testing"

	"github.com/gatehouse-auth/gatehouse/adapters/postgres/pgtest"
)

func TestMain(m *testing.M) { pgtest.RunMain(m) }
