package runid

import (
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
	"time"
	"unsafe"
)

// Len is the length of a run ID.
const Len = 36

// New returns a new UUIDv7 in its canonical 36-character form, stamped
// with now. Its random bits come from math/rand/v2's process-wide,
// randomly seeded ChaCha8 source: unique, not secret.
func New(now time.Time) string {
	var buf [Len]byte
	encode(&buf, now)
	return string(buf[:])
}

// Format writes a new ID into buf and returns it as a string that shares
// buf's memory, sparing an allocation when buf lives inside an object
// allocated anyway. The caller must never modify buf afterwards.
func Format(buf *[Len]byte, now time.Time) string {
	encode(buf, now)
	return unsafe.String(&buf[0], Len)
}

func encode(s *[Len]byte, now time.Time) {
	var u [16]byte
	ms := uint64(now.UnixMilli())
	binary.BigEndian.PutUint64(u[0:8], ms<<16|rand.Uint64()&0xffff)
	binary.BigEndian.PutUint64(u[8:16], rand.Uint64())
	u[6] = u[6]&0x0f | 0x70 // version 7
	u[8] = u[8]&0x3f | 0x80 // RFC 9562 variant
	hex.Encode(s[0:8], u[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], u[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], u[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], u[8:10])
	s[23] = '-'
	hex.Encode(s[24:36], u[10:16])
}
