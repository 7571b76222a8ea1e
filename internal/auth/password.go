package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// argon2Params are the cost parameters of one argon2id hash.
type argon2Params struct {
	memory  uint32 // KiB
	time    uint32 // passes
	threads uint8
	saltLen uint32
	keyLen  uint32
}

// defaultArgon2 follows the OWASP Password Storage Cheat Sheet minimum for
// argon2id (m=19 MiB, t=2, p=1), with a 16-byte salt and a 32-byte key.
var defaultArgon2 = argon2Params{memory: 19456, time: 2, threads: 1, saltLen: 16, keyLen: 32}

// hashArgon2 is what HashPassword uses and what VerifyPassword compares a
// stored hash against to decide on a rehash. Tests lower it to stay fast;
// production code never assigns it.
var hashArgon2 = defaultArgon2

// Limits on parameters read back from a stored hash. A tampered or corrupt
// row must not make one login cost gigabytes of memory or minutes of CPU.
const (
	maxArgon2Memory  = 256 * 1024 // KiB, i.e. 256 MiB
	maxArgon2Time    = 10
	maxArgon2Threads = 16
	minArgon2Salt    = 8
	maxArgon2Salt    = 64
	minArgon2Key     = 16
	maxArgon2Key     = 64
)

// maxPasswordInput bounds the bytes HashPassword and VerifyPassword will
// hash, whatever the policy says, so an attacker cannot post megabytes.
const maxPasswordInput = 1024

// ErrMalformedHash is returned by VerifyPassword when the stored string is
// not an argon2id PHC string this package accepts.
var ErrMalformedHash = errors.New("auth: malformed password hash")

// HashPassword returns the argon2id hash of pw as a PHC string,
// "$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>" with unpadded standard
// base64, using a fresh random 16-byte salt. It fails on an empty password
// or one longer than 1024 bytes; check the PasswordPolicy first.
func HashPassword(pw string) (string, error) {
	if pw == "" {
		return "", errors.New("auth: hash password: empty password")
	}
	if len(pw) > maxPasswordInput {
		return "", fmt.Errorf("auth: hash password: longer than %d bytes", maxPasswordInput)
	}
	p := hashArgon2
	salt := make([]byte, p.saltLen)
	rand.Read(salt) // never fails since Go 1.24
	key := argon2.IDKey([]byte(pw), salt, p.time, p.memory, p.threads, p.keyLen)
	return encodePHC(p, salt, key), nil
}

// VerifyPassword reports whether pw matches the PHC string encoded, as
// produced by HashPassword. needsRehash is true when the password matched
// but the stored hash is weaker than what HashPassword now produces: the
// caller should then store HashPassword(pw). err is ErrMalformedHash
// (wrapped) when encoded cannot be parsed or has out-of-range parameters;
// a wrong password is ok == false with a nil error.
//
// Each call costs about 26 ms of one core and 19 MiB of memory at the
// default parameters (BenchmarkVerifyPassword, 2-core machine), so the
// caller should bound concurrent calls, e.g. with a semaphore of a few per
// core, or a burst of logins can exhaust memory.
func VerifyPassword(encoded, pw string) (ok bool, needsRehash bool, err error) {
	p, salt, want, err := parsePHC(encoded)
	if err != nil {
		return false, false, err
	}
	if len(pw) > maxPasswordInput {
		return false, false, nil
	}
	got := argon2.IDKey([]byte(pw), salt, p.time, p.memory, p.threads, p.keyLen)
	if subtle.ConstantTimeCompare(got, want) != 1 {
		return false, false, nil
	}
	cur := hashArgon2
	weaker := p.memory < cur.memory || p.time < cur.time ||
		p.saltLen < cur.saltLen || p.keyLen < cur.keyLen
	return true, weaker, nil
}

func encodePHC(p argon2Params, salt, key []byte) string {
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.memory, p.time, p.threads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// parsePHC accepts exactly the canonical form encodePHC writes, so that a
// hash has one spelling and parsing it back and re-encoding is the identity.
func parsePHC(s string) (p argon2Params, salt, key []byte, err error) {
	var ok bool
	bad := func(why string) (argon2Params, []byte, []byte, error) {
		return argon2Params{}, nil, nil, fmt.Errorf("%w: %s", ErrMalformedHash, why)
	}
	parts := strings.Split(s, "$")
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, hash
	if len(parts) != 6 || parts[0] != "" {
		return bad("want 5 $-separated fields")
	}
	if parts[1] != "argon2id" {
		return bad("algorithm is not argon2id")
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return bad("unsupported version")
	}
	params := strings.Split(parts[3], ",")
	if len(params) != 3 {
		return bad("want parameters m, t, p")
	}
	var vals [3]uint64
	for i, name := range []string{"m=", "t=", "p="} {
		digits, found := strings.CutPrefix(params[i], name)
		if !found {
			return bad("want parameters m, t, p in that order")
		}
		if digits == "" || len(digits) > 10 || (digits[0] == '0') {
			return bad("parameter " + name + " is not a canonical positive number")
		}
		v, perr := strconv.ParseUint(digits, 10, 32)
		if perr != nil {
			return bad("parameter " + name + " is not a number")
		}
		vals[i] = v
	}
	m, t, threads := vals[0], vals[1], vals[2]
	switch {
	case threads < 1 || threads > maxArgon2Threads:
		return bad("parallelism out of range")
	case t < 1 || t > maxArgon2Time:
		return bad("time cost out of range")
	case m < 8*threads || m > maxArgon2Memory:
		return bad("memory cost out of range")
	}
	salt, ok = decodeCanonicalBase64(parts[4])
	if !ok || len(salt) < minArgon2Salt || len(salt) > maxArgon2Salt {
		return bad("salt is not 8 to 64 bytes of unpadded base64")
	}
	key, ok = decodeCanonicalBase64(parts[5])
	if !ok || len(key) < minArgon2Key || len(key) > maxArgon2Key {
		return bad("hash is not 16 to 64 bytes of unpadded base64")
	}
	p = argon2Params{memory: uint32(m), time: uint32(t), threads: uint8(threads),
		saltLen: uint32(len(salt)), keyLen: uint32(len(key))}
	return p, salt, key, nil
}

// decodeCanonicalBase64 decodes unpadded standard base64, refusing the
// line breaks and non-zero trailing bits the standard decoder tolerates.
func decodeCanonicalBase64(s string) ([]byte, bool) {
	b, err := base64.RawStdEncoding.Strict().DecodeString(s)
	if err != nil || base64.RawStdEncoding.EncodeToString(b) != s {
		return nil, false
	}
	return b, true
}
