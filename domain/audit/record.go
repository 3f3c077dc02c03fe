package audit

import (
	"bytes"
	"crypto/sha256"
	"fmt"
)

// Record is one stored event with its place in the chain.
type Record struct {
	Seq      int64
	Event    Event
	PrevHash []byte
	Hash     []byte
}

// Verifier checks a trail record by record, in seq order: seq runs 1, 2,
// 3, ... without gaps, the first prev_hash is 32 zero bytes, each prev_hash
// is the previous record's hash, and each hash is Chain recomputed from
// the record. The zero value is ready to check a trail from its start.
type Verifier struct {
	lastSeq  int64
	lastHash []byte
	checked  int
}

// Check verifies the next record and returns an error naming its seq at
// the first broken link.
func (v *Verifier) Check(r Record) error {
	if v.lastHash == nil {
		v.lastHash = make([]byte, sha256.Size)
	}
	switch {
	case r.Seq != v.lastSeq+1:
		return fmt.Errorf("audit chain broken at seq %d: expected seq %d (rows missing)", r.Seq, v.lastSeq+1)
	case !bytes.Equal(r.PrevHash, v.lastHash):
		return fmt.Errorf("audit chain broken at seq %d: prev_hash is not the hash of seq %d", r.Seq, v.lastSeq)
	case !bytes.Equal(r.Hash, Chain(r.PrevHash, r.Seq, r.Event)):
		return fmt.Errorf("audit chain broken at seq %d: hash does not match the row (row altered)", r.Seq)
	}
	v.lastSeq, v.lastHash = r.Seq, r.Hash
	v.checked++
	return nil
}

// Checked is how many records passed.
func (v *Verifier) Checked() int { return v.checked }
