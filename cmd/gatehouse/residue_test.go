package main

import (
	"bytes"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestDeliveredLinkLeavesTheDataDirectory: on the embedded store with SMTP,
// once a reset mail is delivered its token is in no file of the data
// directory (the database, its -wal and -shm, the key files) within 10 s,
// while serve runs on.
func TestDeliveredLinkLeavesTheDataDirectory(t *testing.T) {
	t.Parallel()
	f := newFixture(t, onSQLite)
	smtp, c := f.smtp, f.c
	addr := f.verifiedUser(t)
	if r := c.post("/v1/password/forgot", map[string]string{"email": addr}); r.Status != http.StatusAccepted {
		t.Fatalf("forgot: %d %s", r.Status, r.Body)
	}
	token := []byte(tokenFrom(t, mailTo(t, smtp, addr, 2), "/reset-password"))
	delivered := time.Now()

	dir := f.env["GATEHOUSE_DATA_DIR"]
	for {
		var holding []string
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(path)
			if err != nil && !os.IsNotExist(err) {
				return err
			}
			if bytes.Contains(b, token) {
				holding = append(holding, d.Name())
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(holding) == 0 {
			break
		}
		if time.Since(delivered) > 10*time.Second {
			t.Fatalf("10 s after delivery %v still hold the reset link's token", holding)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// The link still works: only its copies on disk are gone.
	if r := c.post("/v1/password/reset", map[string]string{"token": string(token), "password": "a whole new passphrase 77"}); r.Status != http.StatusOK && r.Status != http.StatusNoContent {
		t.Fatalf("reset with the delivered link: %d %s", r.Status, r.Body)
	}
}
