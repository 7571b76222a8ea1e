package auditchain

import (
	"crypto/ed25519"
	"encoding/hex"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// TestHashIsStable pins the record encoding: a change to it would make
// every stored chain fail verification.
func TestHashIsStable(t *testing.T) {
	h1 := Hash(nil, 1, 1795420000000, []byte(`{"resourceType":"AuditEvent"}`))
	h2 := Hash(h1, 2, 1795420000001, []byte(`{}`))
	got := hex.EncodeToString(h2)
	// Computed independently (Python hashlib) from the documented encoding.
	const want = "a009af1facdca1b56c8ded2b41f831db15860119438dabef1f6846fe87c8d351"
	if got != want {
		t.Errorf("Hash = %s, want %s", got, want)
	}
	// Fields cannot run into one another.
	if string(Hash(nil, 1, 2, []byte("x"))) == string(Hash(nil, 1, 2, []byte("x\x00"))) {
		t.Error("events of different lengths hash alike")
	}
	if string(Hash(nil, 1, 2, nil)) != string(Hash([]byte{}, 1, 2, nil)) {
		t.Error("an empty previous hash must hash as no previous hash")
	}
}

func TestKeyFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "audit-key")
	// Several processes starting at once get one key.
	var wg sync.WaitGroup
	keys := make([]ed25519.PrivateKey, 4)
	errs := make([]error, 4)
	for i := range keys {
		wg.Go(func() { keys[i], _, errs[i] = LoadOrCreateKey(path) })
	}
	wg.Wait()
	for i := range keys {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if !keys[i].Equal(keys[0]) {
			t.Fatalf("process %d got another key", i)
		}
	}
	info, err := os.Stat(path)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, mode %v, want 0600", err, info.Mode())
	}
	pubs, err := LoadPublicKeys(PublicKeyPath(path))
	if err != nil || len(pubs) != 1 || !pubs[0].Equal(keys[0].Public()) {
		t.Fatalf("public key file: %v, %d keys", err, len(pubs))
	}
	// The private key file gives its public half too.
	if pubs, err := LoadPublicKeys(path); err != nil || !pubs[0].Equal(keys[0].Public()) {
		t.Fatalf("public half of the key file: %v", err)
	}
	// A rotated key: old and new public keys in one file.
	other, _, err := LoadOrCreateKey(filepath.Join(dir, "other"))
	if err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(PublicKeyPath(path))
	b, _ := os.ReadFile(PublicKeyPath(filepath.Join(dir, "other")))
	both := filepath.Join(dir, "both.pub")
	os.WriteFile(both, append(a, b...), 0o644)
	pubs, err = LoadPublicKeys(both)
	if err != nil || len(pubs) != 2 {
		t.Fatalf("two public keys: %v, %d keys", err, len(pubs))
	}
	cp := Sign(other, 5, Hash(nil, 5, 0, nil), 1)
	if !cp.VerifiedBy(pubs) || cp.VerifiedBy(pubs[:1]) {
		t.Error("a checkpoint verifies by exactly the key that signed it")
	}
	// A key others may read is refused.
	os.Chmod(path, 0o644)
	if _, err := LoadKey(path); err == nil {
		t.Error("LoadKey accepted a key file of mode 0644")
	}
}

// TestVerifier feeds a chain of 10 records with checkpoints at 4 and 10.
func TestVerifier(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(nil)
	var recs []Record
	var prev []byte
	for seq := int64(1); seq <= 10; seq++ {
		ev := []byte{byte(seq)}
		h := Hash(prev, seq, seq*1000, ev)
		recs = append(recs, Record{Seq: seq, Recorded: seq * 1000, Event: ev, Prev: prev, Hash: h})
		prev = h
	}
	cps := []Checkpoint{Sign(key, 10, recs[9].Hash, 11000), Sign(key, 4, recs[3].Hash, 5000)}
	check := func(recs []Record) []Problem {
		var got []Problem
		v := NewVerifier(Config{Keys: []ed25519.PublicKey{key.Public().(ed25519.PublicKey)}, Checkpoints: cps, Report: func(p Problem) { got = append(got, p) }})
		for _, r := range recs {
			v.Add(r)
		}
		sum := v.Finish()
		if sum.Problems != len(got) {
			t.Errorf("summary counts %d problems, %d reported", sum.Problems, len(got))
		}
		return got
	}
	if got := check(recs); len(got) != 0 {
		t.Fatalf("intact chain: %v", got)
	}
	cases := []struct {
		name string
		edit func([]Record) []Record
		seq  int64
		kind string
	}{
		{"edited", func(r []Record) []Record { r[2].Event = []byte("x"); return r }, 3, Altered},
		{"removed", func(r []Record) []Record { return append(r[:5:5], r[6:]...) }, 7, Missing},
		{"first removed", func(r []Record) []Record { return r[1:] }, 2, Missing},
		{"reordered", func(r []Record) []Record { r[6], r[7] = r[7], r[6]; return r }, 8, Missing},
		{"tail cut", func(r []Record) []Record { return r[:8] }, 10, CheckpointMissing},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := check(c.edit(append([]Record(nil), recs...)))
			if len(got) == 0 || got[0].Seq != c.seq || got[0].Kind != c.kind {
				t.Errorf("first problem %v, want %s at seq %d", got, c.kind, c.seq)
			}
		})
	}
}
