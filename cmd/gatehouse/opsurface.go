package main

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	httpadapter "github.com/gatehouse-auth/gatehouse/adapters/http"
	"github.com/gatehouse-auth/gatehouse/adapters/passhash"
	"go.uber.org/zap"
)

// minMetricsToken is the shortest metrics token accepted, in bytes.
const minMetricsToken = 16

// readMetricsToken reads GATEHOUSE_METRICS_TOKEN_FILE's token (surrounding
// space trimmed): nil when the variable is unset.
func readMetricsToken(path string) ([]byte, error) {
	if path == "" {
		return nil, nil
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("GATEHOUSE_METRICS_TOKEN_FILE: %w", err)
	}
	tok := bytes.TrimSpace(raw)
	if len(tok) < minMetricsToken {
		return nil, fmt.Errorf("GATEHOUSE_METRICS_TOKEN_FILE: the token in %s is shorter than %d characters", path, minMetricsToken)
	}
	return tok, nil
}

// readFirebase reads the Firebase project's parameters, the signer key
// from GATEHOUSE_FIREBASE_SIGNER_KEY_FILE (base64, surrounding space
// trimmed): nil when the variable is unset.
func readFirebase(cfg Config) (*passhash.Firebase, error) {
	if cfg.FirebaseSignerKeyFile == "" {
		return nil, nil
	}
	raw, err := os.ReadFile(cfg.FirebaseSignerKeyFile)
	if err != nil {
		return nil, fmt.Errorf("GATEHOUSE_FIREBASE_SIGNER_KEY_FILE: %w", err)
	}
	key, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace(raw)))
	if err != nil {
		return nil, fmt.Errorf("GATEHOUSE_FIREBASE_SIGNER_KEY_FILE: %s does not hold base64 (the project's base64_signer_key)", cfg.FirebaseSignerKeyFile)
	}
	// The salt separator was checked with the configuration.
	sep, _ := base64.StdEncoding.DecodeString(cfg.FirebaseSaltSeparator)
	f := &passhash.Firebase{SignerKey: key, SaltSeparator: sep, Rounds: cfg.FirebaseRounds, MemCost: cfg.FirebaseMemCost}
	if err := f.Validate(); err != nil {
		return nil, fmt.Errorf("GATEHOUSE_FIREBASE_SIGNER_KEY_FILE: %w", err)
	}
	return f, nil
}

// warnOperatorSurfaces warns of an admin listener that other machines
// reach, and of key files that other users of the machine can read.
func warnOperatorSurfaces(log *zap.Logger, cfg Config) {
	if cfg.AdminAddr != "" && !httpadapter.OnLoopback(cfg.AdminAddr) {
		log.Warn("the admin listener is not on loopback: other machines reach it. Keep it behind a firewall; /metrics now needs a bearer (GATEHOUSE_METRICS_TOKEN_FILE's token or an admin key), and only the Host names of GATEHOUSE_ADMIN_HOSTS (besides its address and localhost) are answered.",
			zap.String("admin_addr", cfg.AdminAddr))
	}
	for _, kf := range keyFiles(cfg) {
		fi, err := os.Stat(kf.path)
		if err != nil {
			continue // a missing file is the loading code's error to report
		}
		if perm := fi.Mode().Perm(); perm&0o077 != 0 {
			log.Warn("a key file is readable by group or others: chmod 600 it (and keep it owned by the user gatehouse runs as)",
				zap.String("variable", kf.variable), zap.String("path", kf.path), zap.String("mode", fmt.Sprintf("%#o", perm)))
		}
	}
}

// keyFile is a file holding a secret, and the variable that names it.
type keyFile struct{ variable, path string }

// keyFiles are the files with secrets the configuration names, and the
// embedded store's generated secret key.
func keyFiles(cfg Config) []keyFile {
	var out []keyFile
	add := func(variable, path string) {
		if path = strings.TrimSpace(path); path != "" {
			out = append(out, keyFile{envPrefix + variable, path})
		}
	}
	add("SECRET_KEY_FILE", cfg.SecretKeyFile)
	if cfg.SecretKeyFile == "" && cfg.store.Kind == storeSQLite {
		add("DATA_DIR", filepath.Join(cfg.DataDir, secretKeyFile))
	}
	add("JWT_PRIVATE_KEY_FILE", cfg.JWTPrivateKeyFile)
	for _, p := range cfg.JWTPreviousKeyFiles {
		add("JWT_PREVIOUS_KEY_FILES", p)
	}
	add("METRICS_TOKEN_FILE", cfg.MetricsTokenFile)
	add("FIREBASE_SIGNER_KEY_FILE", cfg.FirebaseSignerKeyFile)
	return out
}
