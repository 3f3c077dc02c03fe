package domain

import (
	"encoding/binary"
	"hash"
)

// HashFields writes each field to h prefixed by its length (8 bytes, big
// endian), so that no two lists of fields write the same bytes: ("ab", "c")
// and ("a", "bc") hash apart.
func HashFields(h hash.Hash, fields ...[]byte) {
	for _, b := range fields {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
}
