package passhash

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/crypto/pbkdf2"
	"golang.org/x/crypto/scrypt"
)

// Bounds on the cost of an imported hash, checked when it is imported and
// again before it is verified, so that a login cannot be made to burn CPU
// or memory by a hash with absurd parameters. argon2i takes the native
// argon2id hasher's (Native.CheckCost).
const (
	MaxBcryptCost       = 16
	MaxScryptN          = 1 << 20
	MaxScryptR          = 32
	MaxScryptP          = 16
	MaxPBKDF2Iterations = 10_000_000

	minKeyLength  = 16
	maxKeyLength  = 1024
	maxSaltLength = 1024
)

// bcryptMaxPassword is how many bytes of a password bcrypt hashes; the
// systems that made these hashes ignored the rest, so verification does.
const bcryptMaxPassword = 72

type bcryptHash []byte

func parseBcrypt(encoded string) (verifier, error) {
	cost, err := bcrypt.Cost([]byte(encoded))
	if err != nil {
		return nil, fmt.Errorf("malformed bcrypt hash: %v", err)
	}
	if cost > MaxBcryptCost {
		return nil, fmt.Errorf("bcrypt cost %d is over %d", cost, MaxBcryptCost)
	}
	return bcryptHash(encoded), nil
}

func (b bcryptHash) verify(pw []byte) bool {
	if len(pw) > bcryptMaxPassword {
		pw = pw[:bcryptMaxPassword]
	}
	return bcrypt.CompareHashAndPassword(b, pw) == nil
}

// derived is a hash whose check is a key derived from the password
// compared with the stored key in constant time.
type derived struct {
	key    []byte
	derive func(pw []byte) []byte
}

func (d derived) verify(pw []byte) bool {
	return subtle.ConstantTimeCompare(d.key, d.derive(pw)) == 1
}

// phc splits a PHC string "$id$params$salt$hash" (an optional v=N segment
// after the id is returned as version) into its parts.
func phc(encoded, id string) (version, params, salt, hash string, err error) {
	parts := strings.Split(strings.TrimPrefix(encoded, "$"+id+"$"), "$")
	if len(parts) == 4 && strings.HasPrefix(parts[0], "v=") {
		version, parts = parts[0], parts[1:]
	}
	if len(parts) != 3 {
		return "", "", "", "", fmt.Errorf("malformed %s hash: want $%s$PARAMETERS$SALT$HASH", id, id)
	}
	return version, parts[0], parts[1], parts[2], nil
}

// paramList reads "k=v,k=v" with integer values; only the keys of want
// are taken, each at most once.
func paramList(s, id string, want ...string) (map[string]uint64, error) {
	out := map[string]uint64{}
	for kv := range strings.SplitSeq(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		n, err := strconv.ParseUint(v, 10, 32)
		if !ok || err != nil || !slices.Contains(want, k) {
			return nil, fmt.Errorf("malformed %s parameters %q", id, s)
		}
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("malformed %s parameters %q", id, s)
		}
		out[k] = n
	}
	return out, nil
}

// b64 decodes unpadded base64 in the standard alphabet or passlib's
// adapted one ("." for "+"), padding tolerated.
func b64(s string) ([]byte, error) {
	s = strings.TrimRight(strings.ReplaceAll(s, ".", "+"), "=")
	return base64.RawStdEncoding.DecodeString(s)
}

// saltAndKey decodes a PHC salt and hash and checks their lengths.
func saltAndKey(id, salt, hash string) ([]byte, []byte, error) {
	s, err := b64(salt)
	if err != nil || len(s) > maxSaltLength {
		return nil, nil, fmt.Errorf("malformed %s salt", id)
	}
	k, err := b64(hash)
	if err != nil || len(k) < minKeyLength || len(k) > maxKeyLength {
		return nil, nil, fmt.Errorf("malformed %s hash value (want %d to %d bytes of base64)", id, minKeyLength, maxKeyLength)
	}
	return s, k, nil
}

func parseArgon2i(encoded string, checkCost func(memoryKiB, iterations uint32, parallelism uint8) error) (verifier, error) {
	version, params, salt, hash, err := phc(encoded, "argon2i")
	if err != nil {
		return nil, err
	}
	if version != "v=19" {
		return nil, errors.New("argon2i hashes must be version 19 (v=19)")
	}
	p, err := paramList(params, "argon2i", "m", "t", "p")
	if err != nil || len(p) != 3 || p["p"] > 255 {
		return nil, fmt.Errorf("malformed argon2i parameters %q", params)
	}
	m, t, par := uint32(p["m"]), uint32(p["t"]), uint8(p["p"])
	if err := checkCost(m, t, par); err != nil {
		return nil, fmt.Errorf("argon2i cost out of bounds (%v)", strings.TrimPrefix(err.Error(), "argon2id: "))
	}
	s, k, err := saltAndKey("argon2i", salt, hash)
	if err != nil {
		return nil, err
	}
	return derived{key: k, derive: func(pw []byte) []byte {
		return argon2.Key(pw, s, t, m, par, uint32(len(k)))
	}}, nil
}

func parseScrypt(encoded string) (verifier, error) {
	_, params, salt, hash, err := phc(encoded, "scrypt")
	if err != nil {
		return nil, err
	}
	p, err := paramList(params, "scrypt", "ln", "r", "p")
	if err != nil || len(p) != 3 {
		return nil, fmt.Errorf("malformed scrypt parameters %q", params)
	}
	if p["ln"] < 1 || p["ln"] > 20 || p["r"] < 1 || p["r"] > MaxScryptR || p["p"] < 1 || p["p"] > MaxScryptP {
		return nil, fmt.Errorf("scrypt cost out of bounds: N at most 2^20 (ln=20), r 1 to %d, p 1 to %d", MaxScryptR, MaxScryptP)
	}
	s, k, err := saltAndKey("scrypt", salt, hash)
	if err != nil {
		return nil, err
	}
	n, r, par := 1<<p["ln"], int(p["r"]), int(p["p"])
	return derived{key: k, derive: func(pw []byte) []byte {
		out, err := scrypt.Key(pw, s, n, r, par, len(k))
		if err != nil { // the parameters were checked: unreachable
			return nil
		}
		return out
	}}, nil
}

func parsePBKDF2(encoded string) (verifier, error) {
	_, params, salt, hash, err := phc(encoded, "pbkdf2-sha256")
	if err != nil {
		return nil, err
	}
	// passlib writes the rounds bare ("29000"); the PHC form is "i=N[,l=N]".
	var iter uint64
	if n, err := strconv.ParseUint(params, 10, 32); err == nil {
		iter = n
	} else if p, err := paramList(params, "pbkdf2-sha256", "i", "l"); err == nil && p["i"] > 0 {
		iter = p["i"]
	} else {
		return nil, fmt.Errorf("malformed pbkdf2-sha256 parameters %q", params)
	}
	s, k, err := saltAndKey("pbkdf2-sha256", salt, hash)
	if err != nil {
		return nil, err
	}
	return pbkdf2SHA256(iter, s, k)
}

func parseDjango(encoded string) (verifier, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 4 {
		return nil, errors.New("malformed Django hash: want pbkdf2_sha256$ITERATIONS$SALT$HASH")
	}
	iter, err := strconv.ParseUint(parts[1], 10, 32)
	if err != nil {
		return nil, errors.New("malformed Django hash: iterations are not a number")
	}
	if len(parts[2]) > maxSaltLength {
		return nil, errors.New("malformed Django hash: salt too long")
	}
	k, err := base64.StdEncoding.DecodeString(parts[3])
	if err != nil || len(k) < minKeyLength || len(k) > maxKeyLength {
		return nil, errors.New("malformed Django hash value")
	}
	return pbkdf2SHA256(iter, []byte(parts[2]), k)
}

func pbkdf2SHA256(iter uint64, salt, key []byte) (verifier, error) {
	if iter < 1 || iter > MaxPBKDF2Iterations {
		return nil, fmt.Errorf("PBKDF2 iterations %d out of bounds (1 to %d)", iter, MaxPBKDF2Iterations)
	}
	return derived{key: key, derive: func(pw []byte) []byte {
		return pbkdf2.Key(pw, salt, int(iter), len(key), sha256.New)
	}}, nil
}
