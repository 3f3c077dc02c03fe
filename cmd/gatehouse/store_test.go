package main

import (
	"context"
	"reflect"
	"testing"
	"time"

	"go.uber.org/zap"
)

// TestEachStoreOpensWhole: the adapter the one switch picks for each store
// fills every field of storage.Store (a field left nil would fail only
// when the service first used it), and the store it opens is that store
// and answers.
func TestEachStoreOpensWhole(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st testStore) {
		cfg, err := LoadConfig(baseEnv(t, st, nil))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		a := cfg.storage(0, zap.NewNop())
		if err := a.MigrateUp(ctx); err != nil {
			t.Fatal(err)
		}
		s, err := a.Open(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		for _, v := range []reflect.Value{reflect.ValueOf(*s), reflect.ValueOf(s.Repos)} {
			for i := range v.NumField() {
				name := v.Type().Field(i).Name
				if name == "SecretKeyFile" { // "": the store keeps the key in its settings
					continue
				}
				if v.Field(i).IsZero() {
					t.Errorf("%s: %s.%s is not set", st, v.Type().Name(), name)
				}
			}
		}
		if s.Info.Kind() != string(st) {
			t.Errorf("the store opened for %s says it is %s", st, s.Info.Kind())
		}
		if (s.SecretKeyFile != "") != (st == onSQLite) {
			t.Errorf("%s keeps a generated secret key in %q", st, s.SecretKeyFile)
		}
		if err := s.Ready(ctx); err != nil {
			t.Errorf("%s: not ready: %v", st, err)
		}
		if v, err := s.Info.SchemaVersion(ctx); err != nil || v == 0 {
			t.Errorf("%s: schema version %d, %v after MigrateUp", st, v, err)
		}
		for _, c := range s.Conns {
			if c.Name == "" || c.Stats().Max == 0 {
				t.Errorf("%s: connection group %+v", st, c)
			}
		}
	})
}
