// Package auth provides the pure building blocks of authentication and
// authorisation: password hashing and policy, TOTP second factors and
// recovery codes, login back-off, opaque tokens and PKCE, JWT signing keys
// with rotation, SMART Backend Services client assertions, and SMART App
// Launch scopes.
//
// Nothing here touches storage or HTTP. Functions take the current time and
// any stored state as arguments and return what the caller must persist
// (a password hash, the last TOTP step, the remaining recovery codes, a
// token hash), so the same code serves every backend and every copy of the
// server, and tests need no clock or database.
//
// Secrets are only ever stored as hashes: passwords as argon2id PHC
// strings, recovery codes and opaque tokens as SHA-256 hex. Comparisons of
// secret material are constant-time.
package auth
