package auth_test

import (
	"fmt"
	"time"

	"github.com/emr-project/emr/internal/auth"
)

// A login with a password, back-off and a TOTP code, as the HTTP layer
// would drive it. The account row holds failures, lastFailure and lastStep.
func Example_login() {
	var (
		lockout     auth.Lockout // the default policy
		failures    = 5
		lastFailure = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
		lastStep    int64
	)
	now := lastFailure.Add(10 * time.Second)
	if ok, at := lockout.Allowed(failures, lastFailure, now); !ok {
		fmt.Println("blocked until", at.Format(time.Kitchen)) // do not check the password
	}
	now = lastFailure.Add(time.Minute)
	if ok, _ := lockout.Allowed(failures, lastFailure, now); ok {
		fmt.Println("attempt allowed")
	}
	// … VerifyPassword succeeded, so failures = 0; then the second factor:
	const secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
	now = time.Unix(1111111111, 0)
	step, ok := auth.VerifyTOTP(secret, "050471", now, lastStep)
	fmt.Println("code ok:", ok)
	lastStep = step // stored with the session
	_, ok = auth.VerifyTOTP(secret, "050471", now, lastStep)
	fmt.Println("replay ok:", ok)
	// Output:
	// blocked until 12:00PM
	// attempt allowed
	// code ok: true
	// replay ok: false
}

func ExampleScopeSet_Intersect() {
	requested, _ := auth.ParseScopes("openid fhirUser launch/patient patient/*.read offline_access")
	registered, _ := auth.ParseScopes("openid fhirUser launch/patient patient/Observation.rs?category=vital-signs patient/Patient.r")
	granted := requested.Intersect(registered)
	fmt.Println(granted)
	for _, s := range granted.Allows("patient", "Observation", auth.PermSearch) {
		fmt.Println("search Observation where", s.Params)
	}
	// Output:
	// openid fhirUser launch/patient patient/Observation.rs?category=vital-signs patient/Patient.r
	// search Observation where [{category vital-signs}]
}

func ExampleKeySet() {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	key, _ := auth.GenerateKey(now)
	keys, _ := auth.NewKeySet(key)
	token, _ := keys.Sign(&auth.Claims{
		Issuer: "https://emr.example", Audience: auth.Audience{"https://emr.example/fhir"},
		Subject: "Practitioner/1", IssuedAt: now.Unix(), Expiry: now.Add(time.Hour).Unix(),
		Scope: "user/*.rs", ClientID: "app",
	})
	claims, err := keys.Verify(token, auth.VerifyOptions{
		Issuer: "https://emr.example", Audience: "https://emr.example/fhir", Now: now.Add(time.Minute),
	})
	fmt.Println(claims.Subject, claims.Scope, err)
	_, err = keys.Verify(token, auth.VerifyOptions{
		Issuer: "https://emr.example", Audience: "https://emr.example/fhir", Now: now.Add(2 * time.Hour),
	})
	fmt.Println(err)
	// Output:
	// Practitioner/1 user/*.rs <nil>
	// auth: invalid token: expired: exp 2026-01-01T13:00:00Z, now 2026-01-01T14:00:00Z
}
