package argon2id

import "context"

// Bounded runs fn in one of the hasher's slots, as Hash and Verify run: a
// verifier of another hash format shares the bound on concurrent hashing,
// so that its logins neither overload the machine nor wait otherwise than
// an argon2id login. It gives domain.ErrOverloaded, or ctx's error, when no
// slot frees up in time, and then fn does not run.
func (h *Hasher) Bounded(ctx context.Context, fn func()) error {
	if err := h.acquire(ctx); err != nil {
		return err
	}
	defer h.release()
	fn()
	return nil
}

// CheckStored reports whether encoded is an argon2id PHC string that
// Verify takes: well formed, its cost and lengths within bounds.
func (h *Hasher) CheckStored(encoded string) error {
	_, _, _, err := decode(encoded)
	return err
}

// CheckCost reports whether an argon2 cost is within the bounds of the
// stored hashes Verify takes (Params.Validate).
func (h *Hasher) CheckCost(memoryKiB, iterations uint32, parallelism uint8) error {
	return Params{MemoryKiB: memoryKiB, Iterations: iterations, Parallelism: parallelism}.Validate()
}
