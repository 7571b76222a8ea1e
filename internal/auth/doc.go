// Package auth provides authentication and authorisation: user accounts
// and sign-in (Accounts: passwords, TOTP second factors, lockout, all
// audited), web sessions with CSRF tokens (Sessions), the first
// administrator of a new installation (EnsureAdmin), and the pure building
// blocks they use: password hashing and policy, TOTP and recovery codes,
// login back-off, opaque tokens and PKCE, JWT signing keys with rotation,
// SMART Backend Services client assertions, and SMART App Launch scopes.
//
// Accounts and Sessions keep their state in a store.Store's infrastructure
// records (kinds "user" and "session"), so every copy of the server sees
// the same accounts. The building blocks touch neither storage nor HTTP:
// they take the current time and any stored state as arguments and return
// what the caller must persist, so tests need no clock or database. What
// a caller of the building blocks stores (Accounts and Sessions do so):
//
//   - per user: the HashPassword string (replace it when VerifyPassword
//     reports needsRehash); the Lockout failure count and time of the last
//     failure; the TOTP secret and the last step VerifyTOTP returned; the
//     recovery code hashes UseRecoveryCode leaves;
//   - per session, refresh token or authorisation code: HashToken of the
//     NewToken value, never the value; with a code, its PKCE challenge;
//   - signing keys: Key.PrivateJSON, as a secret, with which key signs;
//   - per client: its registered scopes and JWK Set, and the client
//     assertion jti values seen until their exp.
//
// Passwords, recovery codes and tokens are stored only as hashes (TOTP
// secrets and signing keys cannot be; protect them), and secrets are compared
// in constant time. Updates that consume something (a TOTP step, a
// recovery code, a jti) must be made atomically with accepting the login,
// or two concurrent requests can both use it.
package auth
