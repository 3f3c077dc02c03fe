package admin_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/app/admin"
	"github.com/gatehouse-auth/gatehouse/app/internal/apptest"
	"github.com/gatehouse-auth/gatehouse/app/mock"
	"github.com/gatehouse-auth/gatehouse/domain/audit"
	"go.uber.org/mock/gomock"
)

// chain builds a valid trail of n records.
func chain(n int) []audit.Record {
	prev := make([]byte, 32)
	var recs []audit.Record
	for i := 1; i <= n; i++ {
		e := audit.Event{Type: audit.LoginFailed, UserID: apptest.ID(uint64(i)), IP: "203.0.113.5", At: apptest.T0.Add(time.Duration(i) * time.Second),
			Detail: map[string]string{"email": "a@x.io"}}
		h := audit.Chain(prev, int64(i), e)
		recs = append(recs, audit.Record{Seq: int64(i), Event: e, PrevHash: prev, Hash: h})
		prev = h
	}
	return recs
}

func TestVerifyAuditChain(t *testing.T) {
	boom := errors.New("db down")
	for _, c := range []struct {
		name    string
		recs    func() []audit.Record
		walkErr error // returned by Walk after the records
		checked int
		errHas  string // "" = no error
	}{
		{"empty trail", func() []audit.Record { return nil }, nil, 0, ""},
		{"intact", func() []audit.Record { return chain(3) }, nil, 3, ""},
		{"row altered", func() []audit.Record {
			r := chain(3)
			r[1].Event.IP = "198.51.100.1"
			return r
		}, nil, 1, "seq 2"},
		{"row missing", func() []audit.Record {
			r := chain(3)
			return append(r[:1], r[2])
		}, nil, 1, "seq 3"},
		{"first link not from zero", func() []audit.Record {
			return chain(3)[1:]
		}, nil, 0, "seq 2"},
		{"store failure", func() []audit.Record { return chain(2) }, boom, 2, boom.Error()},
	} {
		t.Run(c.name, func(t *testing.T) {
			trail := mock.NewMockAuditTrail(gomock.NewController(t))
			recs := c.recs()
			trail.EXPECT().Walk(gomock.Any(), gomock.Any()).Times(1).DoAndReturn(func(_ context.Context, fn func(audit.Record) error) error {
				for _, r := range recs {
					if err := fn(r); err != nil {
						return err
					}
				}
				return c.walkErr
			})
			n, err := admin.VerifyAuditChain(context.Background(), trail)
			if n != c.checked {
				t.Errorf("checked %d, want %d", n, c.checked)
			}
			if c.errHas == "" && err != nil {
				t.Fatalf("err = %v", err)
			}
			if c.errHas != "" && (err == nil || !strings.Contains(err.Error(), c.errHas)) {
				t.Fatalf("err = %v, want one naming %q", err, c.errHas)
			}
		})
	}
}
