// Package smart is the OAuth 2.0 authorisation server of the EMR,
// implementing SMART App Launch 2.x: registered clients, signing keys
// kept in the store and rotated, the authorisation code grant with PKCE
// (standalone and EHR launch), SMART Backend Services (client_credentials
// with private_key_jwt), refresh tokens rotated on use, revocation
// (RFC 7009) and introspection (RFC 7662); and the middleware that turns a
// bearer access token into the access.Principal the FHIR API decides on.
//
// Everything it keeps is an infrastructure record (store.Records): clients,
// signing keys, launch contexts, pending authorisation requests,
// authorisation codes, refresh tokens, revoked access token ids and used
// client assertion ids. Codes and tokens are stored only as hashes. Several
// servers may share one database: each loads the signing keys from it and
// reloads them periodically (Server.Run), and every one-time use (a code,
// a refresh token, an assertion jti) is decided by a versioned or
// create-only write, so two servers cannot both accept it.
//
// The cryptography and parsing are internal/auth's: signing and verifying
// tokens (auth.KeySet), client assertions (auth.VerifyClientAssertion),
// scopes (auth.ParseScopes), PKCE and password hashes. User accounts come
// through the Users interface, which the accounts package implements.
package smart
