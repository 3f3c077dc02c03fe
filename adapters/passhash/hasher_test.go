package passhash

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/adapters/argon2id"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/user"
	"golang.org/x/crypto/bcrypt"
)

// The argon2id hasher is the native hasher the service wraps.
var _ Native = (*argon2id.Hasher)(nil)

func pw(s string) user.Password { return user.NormalizePassword(s) }

func b64std(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// firebaseSample is the sample project of Firebase's scrypt repository
// README (github.com/firebase/scrypt), with its exported user1.
func firebaseSample(t *testing.T) *Firebase {
	return &Firebase{
		SignerKey:     b64std(t, "jxspr8Ki0RYycVU8zykbdLGjFQ3McFUH0uiiTvC8pVMXAn210wjLNmdZJzxUECKbm0QsEmYUSDzZvpjeJ9WmXA=="),
		SaltSeparator: b64std(t, "Bw=="),
		Rounds:        8,
		MemCost:       14,
	}
}

const (
	firebaseUser1     = "$firebase-scrypt$42xEC+ixf3L2lw==$lSrfV15cpx95/sZS2W9c9Kp6i/LVgQNDNC/qzrCnh1SAyZvqmZqAjTdn3aoItz+VHjoZilo78198JAdRuid5lQ=="
	firebaseUser1Pass = "user1password"
)

// newHasher is a hasher over a cheap argon2id whose calls wait as long as
// the test runs for a slot: a busy machine makes them slow, not refused.
func newHasher(t *testing.T, fb *Firebase) *Hasher {
	t.Helper()
	native, err := argon2id.New(argon2id.Options{Params: argon2id.Params{MemoryKiB: 64, Iterations: 1, Parallelism: 1}, MaxWait: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	h, err := New(native, fb)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

type vector struct {
	Format, Password, Hash string
}

// vectors are hashes made by the formats' own code: testdata/vectors.json
// (written by testdata/make_vectors.py: Python's hashlib, the argon2
// reference tool), bcrypt from Go's x/crypto/bcrypt, and Firebase's
// published sample.
func vectors(t *testing.T) []vector {
	t.Helper()
	raw, err := os.ReadFile("testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var vs []vector
	if err := json.Unmarshal(raw, &vs); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"correct horse battery staple", "pässwörd mit ümläuten ☃"} {
		b, err := bcrypt.GenerateFromPassword([]byte(p), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		// $2a$, $2b$ and $2y$ are one algorithm; the letter says which
		// implementation's bugs the hash is free of.
		for _, v := range []string{"$2a$", "$2b$", "$2y$"} {
			vs = append(vs, vector{Format: "bcrypt " + v, Password: p, Hash: v + string(b[4:])})
		}
	}
	return append(vs, vector{Format: "firebase-scrypt", Password: firebaseUser1Pass, Hash: firebaseUser1})
}

func TestVerifiesEveryFormat(t *testing.T) {
	t.Parallel()
	h := newHasher(t, firebaseSample(t))
	ctx := context.Background()
	for _, v := range vectors(t) {
		t.Run(v.Format, func(t *testing.T) {
			if err := h.CheckImported(v.Hash); err != nil {
				t.Fatalf("CheckImported(%s) = %v", v.Hash, err)
			}
			ok, rehash, err := h.Verify(ctx, pw(v.Password), v.Hash)
			if err != nil || !ok {
				t.Fatalf("Verify(right password) = %v, %v, %v; want ok", ok, rehash, err)
			}
			// Every imported format asks to become the configured
			// argon2id; the reference tool's argon2id has another cost.
			if !rehash {
				t.Fatal("an imported hash does not ask for a rehash")
			}
			for _, wrong := range []string{v.Password + "x", ""} {
				if ok, _, err := h.Verify(ctx, pw(wrong), v.Hash); err != nil || ok {
					t.Fatalf("Verify(%q) = %v, %v; want refused", wrong, ok, err)
				}
			}
		})
	}
}

func TestNewHashesAreArgon2id(t *testing.T) {
	t.Parallel()
	h := newHasher(t, nil)
	ctx := context.Background()
	enc, err := h.Hash(ctx, pw("correct horse battery staple"))
	if err != nil || !strings.HasPrefix(enc, "$argon2id$") {
		t.Fatalf("Hash = %q, %v", enc, err)
	}
	ok, rehash, err := h.Verify(ctx, pw("correct horse battery staple"), enc)
	if err != nil || !ok || rehash {
		t.Fatalf("Verify(own hash) = %v, %v, %v; want true, false, nil", ok, rehash, err)
	}
	if ok, _, err := h.Verify(ctx, pw("x"), h.DummyHash()); err != nil || ok {
		t.Fatalf("Verify(dummy) = %v, %v", ok, err)
	}
}

func checkCode(t *testing.T, err error, code string) {
	t.Helper()
	var de *domain.Error
	if !errors.As(err, &de) || de.Kind != domain.KindValidation || len(de.Fields) != 1 ||
		de.Fields[0].Field != "password_hash" || de.Fields[0].Code != code {
		t.Fatalf("error = %#v; want a validation error on password_hash with code %s", err, code)
	}
}

func TestUnknownFormatNamesTheAccepted(t *testing.T) {
	t.Parallel()
	for _, enc := range []string{"", "plaintext", "$1$abc$def", "$5$rounds=5000$salt$hash", "sha1$salt$hash", "$argon2d$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"} {
		err := newHasher(t, nil).CheckImported(enc)
		checkCode(t, err, "unsupported_hash_format")
		msg := err.(*domain.Error).Fields[0].Message
		for _, name := range []string{"bcrypt", "argon2id", "argon2i", "scrypt", "PBKDF2-SHA256", "Django"} {
			if !strings.Contains(msg, name) {
				t.Fatalf("message %q does not name %s", msg, name)
			}
		}
		if strings.Contains(msg, "Firebase") {
			t.Fatalf("message %q names Firebase, which is not configured", msg)
		}
		if _, _, err := newHasher(t, nil).Verify(context.Background(), pw("x"), enc); err == nil {
			t.Fatalf("Verify(%q) took an unknown format", enc)
		}
	}
	if msg := newHasher(t, firebaseSample(t)).CheckImported("nope").(*domain.Error).Fields[0].Message; !strings.Contains(msg, "Firebase") {
		t.Fatalf("message %q does not name the configured Firebase format", msg)
	}
}

func TestAbsurdCostsAreRefused(t *testing.T) {
	t.Parallel()
	h := newHasher(t, firebaseSample(t))
	salt, key := "c2FsdHNhbHRzYWx0c2FsdA", "a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U"
	bc, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	for name, enc := range map[string]string{
		"bcrypt cost 17":         "$2b$17$" + string(bc[7:]),
		"bcrypt cost 31":         "$2b$31$" + string(bc[7:]),
		"scrypt N 2^21":          "$scrypt$ln=21,r=8,p=1$" + salt + "$" + key,
		"scrypt r 33":            "$scrypt$ln=14,r=33,p=1$" + salt + "$" + key,
		"scrypt p 17":            "$scrypt$ln=14,r=8,p=17$" + salt + "$" + key,
		"scrypt ln 0":            "$scrypt$ln=0,r=8,p=1$" + salt + "$" + key,
		"pbkdf2 10M+1":           "$pbkdf2-sha256$10000001$" + salt + "$" + key,
		"pbkdf2 i= 10M+1":        "$pbkdf2-sha256$i=10000001$" + salt + "$" + key,
		"pbkdf2 0 iterations":    "$pbkdf2-sha256$0$" + salt + "$" + key,
		"django 10M+1":           "pbkdf2_sha256$10000001$salt$" + key + "=",
		"argon2i memory 8 GiB":   "$argon2i$v=19$m=8388608,t=1,p=1$" + salt + "$" + key,
		"argon2i 2000 passes":    "$argon2i$v=19$m=64,t=2000,p=1$" + salt + "$" + key,
		"argon2i p 0":            "$argon2i$v=19$m=64,t=1,p=0$" + salt + "$" + key,
		"argon2i version 16":     "$argon2i$v=16$m=64,t=1,p=1$" + salt + "$" + key,
		"argon2id memory 8 GiB":  "$argon2id$v=19$m=8388608,t=1,p=1$" + salt + "$" + key,
		"argon2id 2000 passes":   "$argon2id$v=19$m=64,t=2000,p=1$" + salt + "$" + key,
		"scrypt short key":       "$scrypt$ln=14,r=8,p=1$" + salt + "$a2V5",
		"scrypt missing part":    "$scrypt$ln=14,r=8,p=1$" + key,
		"scrypt unknown param":   "$scrypt$ln=14,r=8,p=1,x=2$" + salt + "$" + key,
		"scrypt duplicate param": "$scrypt$ln=14,ln=8,p=1$" + salt + "$" + key,
		"firebase short hash":    "$firebase-scrypt$42xEC+ixf3L2lw==$a2V5a2V5",
		"firebase no salt part":  "$firebase-scrypt$lSrfV15cpx95",
		"too long":               "$scrypt$ln=14,r=8,p=1$" + salt + "$" + strings.Repeat("A", MaxEncodedLength),
	} {
		t.Run(name, func(t *testing.T) {
			checkCode(t, h.CheckImported(enc), "invalid_password_hash")
			// The stored-hash check refuses it too, before any work.
			if ok, _, err := h.Verify(context.Background(), pw("pw"), enc); err == nil || ok {
				t.Fatalf("Verify = %v, %v; want an error", ok, err)
			}
		})
	}
}

func TestFirebaseNeedsItsParameters(t *testing.T) {
	t.Parallel()
	err := newHasher(t, nil).CheckImported(firebaseUser1)
	checkCode(t, err, "invalid_password_hash")
	if !strings.Contains(err.(*domain.Error).Fields[0].Message, "GATEHOUSE_FIREBASE_SIGNER_KEY_FILE") {
		t.Fatalf("message does not say what to configure: %v", err)
	}
	// Another project's signer key makes the right password wrong.
	other := firebaseSample(t)
	other.SignerKey = append([]byte{}, other.SignerKey...)
	other.SignerKey[0] ^= 1
	if ok, _, err := newHasher(t, other).Verify(context.Background(), pw(firebaseUser1Pass), firebaseUser1); err != nil || ok {
		t.Fatalf("Verify under another signer key = %v, %v; want refused", ok, err)
	}
}

func TestFirebaseValidate(t *testing.T) {
	t.Parallel()
	for name, change := range map[string]func(*Firebase){
		"no signer key": func(f *Firebase) { f.SignerKey = nil },
		"rounds 0":      func(f *Firebase) { f.Rounds = 0 },
		"rounds 33":     func(f *Firebase) { f.Rounds = 33 },
		"mem_cost 0":    func(f *Firebase) { f.MemCost = 0 },
		"mem_cost 21":   func(f *Firebase) { f.MemCost = 21 },
	} {
		f := firebaseSample(t)
		change(f)
		if err := f.Validate(); err == nil {
			t.Errorf("%s: Validate took it", name)
		}
		native, _ := argon2id.New(argon2id.Options{Params: argon2id.Params{MemoryKiB: 64, Iterations: 1, Parallelism: 1}})
		if _, err := New(native, f); err == nil {
			t.Errorf("%s: New took it", name)
		}
	}
}

// A verification of an imported hash waits for a slot of the argon2id
// hasher as an argon2id one does: with every slot taken it gives up with
// domain.ErrOverloaded and runs nothing.
func TestImportedHashesShareTheBound(t *testing.T) {
	t.Parallel()
	native, err := argon2id.New(argon2id.Options{Params: argon2id.Params{MemoryKiB: 64, Iterations: 1, Parallelism: 1}, MaxConcurrent: 1, MaxWait: 1})
	if err != nil {
		t.Fatal(err)
	}
	h, err := New(native, firebaseSample(t))
	if err != nil {
		t.Fatal(err)
	}
	held := make(chan struct{})
	release := make(chan struct{})
	done := make(chan error)
	go func() {
		done <- native.Bounded(context.Background(), func() {
			close(held)
			<-release
		})
	}()
	<-held
	for _, v := range vectors(t) {
		if _, _, err := h.Verify(context.Background(), pw(v.Password), v.Hash); !errors.Is(err, domain.ErrOverloaded) {
			t.Fatalf("%s: Verify with no free slot = %v; want ErrOverloaded", v.Format, err)
		}
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
