package auth

import (
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ErrWeakPassword is wrapped by every error PasswordPolicy.Check returns.
// The wrapping error's message is written for the person choosing the
// password and may be shown to them as is.
var ErrWeakPassword = errors.New("password rejected")

type weakPasswordError struct{ msg string }

func (e *weakPasswordError) Error() string { return e.msg }
func (e *weakPasswordError) Unwrap() error { return ErrWeakPassword }

// PasswordPolicy decides which new passwords are acceptable. It follows
// NIST SP 800-63B: a minimum length and a block list instead of rules about
// character classes. The zero value is the default policy.
type PasswordPolicy struct {
	// MinLength is the minimum length in characters; 0 means 12.
	MinLength int
	// MaxBytes is the maximum length in bytes of UTF-8; 0 means 256, and
	// values over 1024 mean 1024, the most HashPassword accepts.
	MaxBytes int
}

func (p PasswordPolicy) minLength() int {
	if p.MinLength <= 0 {
		return 12
	}
	return p.MinLength
}

func (p PasswordPolicy) maxBytes() int {
	if p.MaxBytes <= 0 {
		return 256
	}
	// HashPassword refuses more than maxPasswordInput bytes.
	return min(p.MaxBytes, maxPasswordInput)
}

// Check returns nil if pw is acceptable as a new password for the account
// named user, or an error wrapping ErrWeakPassword whose message explains
// the problem in plain words. user may be empty.
func (p PasswordPolicy) Check(user, pw string) error {
	weak := func(format string, args ...any) error {
		return &weakPasswordError{msg: fmt.Sprintf(format, args...)}
	}
	if !utf8.ValidString(pw) {
		return weak("The password contains invalid characters.")
	}
	if n := utf8.RuneCountInString(pw); n < p.minLength() {
		return weak("The password must be at least %d characters long.", p.minLength())
	}
	if len(pw) > p.maxBytes() {
		return weak("The password must be at most %d bytes long.", p.maxBytes())
	}
	first, _ := utf8.DecodeRuneInString(pw)
	if strings.Trim(pw, string(first)) == "" {
		return weak("The password must not repeat a single character.")
	}
	lower := strings.ToLower(pw)
	// Names shorter than 3 characters would reject too much by accident.
	if u := strings.ToLower(strings.TrimSpace(user)); utf8.RuneCountInString(u) >= 3 && strings.Contains(lower, u) {
		return weak("The password must not contain the user name.")
	}
	// "Password2024!" is as weak as "password": compare the stem left after
	// trailing digits and punctuation are removed, too.
	stem := strings.TrimRightFunc(lower, func(r rune) bool {
		return unicode.IsDigit(r) || unicode.IsPunct(r) || unicode.IsSymbol(r) || unicode.IsSpace(r)
	})
	if commonPasswords[lower] || commonPasswords[stem] {
		return weak("The password is too common; choose one that is hard to guess.")
	}
	return nil
}

// commonPasswords holds, in lower case, passwords and password stems that
// lead every published breach frequency list.
var commonPasswords = map[string]bool{}

func init() {
	for _, pw := range strings.Fields(`
		password passw0rd p@ssword p@ssw0rd password1 qwerty qwertyuiop qwertyuiopasdf
		asdfghjkl asdfghjkl; zxcvbnm 1q2w3e4r5t6y 1qaz2wsx3edc qazwsxedc qazwsxedcrfv
		123456789012 1234567890ab 12345678910 abc123 abcdefghijkl abcd1234 iloveyou
		letmein welcome welcome1 admin administrator changeme changeit secret monkey
		dragon football baseball superman batman trustno1 sunshine princess master
		shadow michael jennifer hunter starwars whatever freedom access default
		hello login loveme mustang ninja passpass qwerty123 test testtest guest
		summer winter spring autumn hospital doctor nurse clinic medical patient`) {
		commonPasswords[pw] = true
	}
}

// generatedAlphabet leaves out characters that are easily confused when
// read from paper or a screen: 0 O o, 1 I l i.
const generatedAlphabet = "23456789abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ"

// GeneratePassword returns a random 20-character password drawn from an
// alphabet without look-alike characters (about 115 bits of entropy). It
// passes the default PasswordPolicy and is meant to be shown once, for
// example when an administrator creates an account.
func GeneratePassword() string {
	for {
		pw := randomString(generatedAlphabet, 20)
		if (PasswordPolicy{}).Check("", pw) == nil {
			return pw
		}
	}
}

// randomString returns n characters drawn uniformly from alphabet, which
// must have at most 256 single-byte characters.
func randomString(alphabet string, n int) string {
	// Rejection sampling avoids the bias of a plain modulo.
	limit := 256 - 256%len(alphabet)
	out := make([]byte, 0, n)
	buf := make([]byte, 2*n)
	for len(out) < n {
		rand.Read(buf)
		for _, b := range buf {
			if int(b) < limit && len(out) < n {
				out = append(out, alphabet[int(b)%len(alphabet)])
			}
		}
	}
	return string(out)
}
