package auditchain

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Key files are PEM: the private key as PKCS #8 ("PRIVATE KEY", mode 0600),
// the public key as PKIX ("PUBLIC KEY"), so that openssl and other tools
// read them too. The public key is written beside the private one, in
// path + ".pub", for `emr audit verify --public-key`.

// PublicKeyPath is where LoadOrCreateKey writes the public key of the
// private key at path.
func PublicKeyPath(path string) string { return path + ".pub" }

// LoadOrCreateKey returns the signing key in the file at path, creating
// the file (and its public half, PublicKeyPath) with a new key when there is
// none. created says that it did. Two processes creating it at once end up
// with the same key: the file appears whole or not at all.
func LoadOrCreateKey(path string) (key ed25519.PrivateKey, created bool, err error) {
	key, err = LoadKey(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return key, false, err
	}
	_, key, err = ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, false, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, false, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, false, fmt.Errorf("audit key: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".audit-key-*")
	if err != nil {
		return nil, false, fmt.Errorf("audit key: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return nil, false, fmt.Errorf("audit key: %w", err)
	}
	werr := pem.Encode(tmp, &pem.Block{Type: "PRIVATE KEY", Bytes: der})
	if werr == nil {
		werr = tmp.Sync()
	}
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return nil, false, fmt.Errorf("audit key: write %s: %w", path, werr)
	}
	// Link fails when the file exists: another process made it first, and
	// its key wins.
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			key, err = LoadKey(path)
			return key, false, err
		}
		return nil, false, fmt.Errorf("audit key: %w", err)
	}
	if err := WritePublicKey(PublicKeyPath(path), key.Public().(ed25519.PublicKey)); err != nil {
		return nil, true, err
	}
	return key, true, nil
}

// LoadKey reads the private key in the file at path. It refuses a file
// that others than its owner may read: the key is what makes the
// checkpoints worth anything.
func LoadKey(path string) (ed25519.PrivateKey, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("audit key: %w", err)
	}
	if perm := info.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("audit key %s: mode %04o lets others read it; chmod 600 it", path, perm)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("audit key: %w", err)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("audit key %s: not a PEM PRIVATE KEY", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("audit key %s: %w", path, err)
	}
	key, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("audit key %s: a %T, want an Ed25519 key", path, k)
	}
	return key, nil
}

// WritePublicKey writes pub to path (mode 0644), replacing the file.
func WritePublicKey(path string, pub ed25519.PublicKey) error {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return err
	}
	data := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("audit public key: %w", err)
	}
	return nil
}

// LoadPublicKeys reads every key in the PEM file at path: PUBLIC KEY blocks,
// or the public half of a PRIVATE KEY. Several blocks in one file are the
// keys of successive periods (after a key is replaced, keep the old public
// key in the file so that older checkpoints still verify).
func LoadPublicKeys(path string) ([]ed25519.PublicKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("audit public key: %w", err)
	}
	var keys []ed25519.PublicKey
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		var k any
		switch block.Type {
		case "PUBLIC KEY":
			k, err = x509.ParsePKIXPublicKey(block.Bytes)
		case "PRIVATE KEY":
			k, err = x509.ParsePKCS8PrivateKey(block.Bytes)
			if priv, ok := k.(ed25519.PrivateKey); ok {
				k = priv.Public()
			}
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("audit public key %s: %w", path, err)
		}
		pub, ok := k.(ed25519.PublicKey)
		if !ok {
			return nil, fmt.Errorf("audit public key %s: a %T, want an Ed25519 key", path, k)
		}
		keys = append(keys, pub)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("audit public key %s: no PEM PUBLIC KEY in it", path)
	}
	return keys, nil
}
