package receipt

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
)

// KeySet holds the public keys receipts are verified against, by key ID. It
// holds the active key and every older key whose receipts may still be
// around, and is published at /.well-known/receipt-keys.json so anyone can
// check a receipt offline:
//
//	{"keys":[{"kid":"2025-01","alg":"Ed25519","public_key":"<base64url, no padding>"}]}
type KeySet map[string]ed25519.PublicKey

const algEd25519 = "Ed25519"

type keySetJSON struct {
	Keys []keyJSON `json:"keys"`
}

type keyJSON struct {
	KeyID     string `json:"kid"`
	Alg       string `json:"alg"`
	PublicKey string `json:"public_key"`
}

// MarshalJSON writes the published shape, keys sorted by ID so the file
// only changes when a key does.
func (ks KeySet) MarshalJSON() ([]byte, error) {
	out := keySetJSON{Keys: []keyJSON{}}
	for _, kid := range slices.Sorted(maps.Keys(ks)) {
		key := ks[kid]
		if len(key) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("marshal receipt key %q: %d bytes, want %d", kid, len(key), ed25519.PublicKeySize)
		}
		out.Keys = append(out.Keys, keyJSON{
			KeyID:     kid,
			Alg:       algEd25519,
			PublicKey: base64.RawURLEncoding.EncodeToString(key),
		})
	}
	return json.Marshal(out)
}

// UnmarshalJSON reads the published shape; see ParseKeySet.
func (ks *KeySet) UnmarshalJSON(data []byte) error {
	var in keySetJSON
	if err := json.Unmarshal(data, &in); err != nil {
		return fmt.Errorf("parse receipt key set: %w", err)
	}
	set := make(KeySet, len(in.Keys))
	for i, k := range in.Keys {
		if k.KeyID == "" {
			return fmt.Errorf("parse receipt key set: key %d has no kid", i)
		}
		if _, dup := set[k.KeyID]; dup {
			return fmt.Errorf("parse receipt key set: kid %q appears twice", k.KeyID)
		}
		if k.Alg != algEd25519 {
			return fmt.Errorf("parse receipt key %q: alg %q, want %q", k.KeyID, k.Alg, algEd25519)
		}
		key, err := base64.RawURLEncoding.Strict().DecodeString(k.PublicKey)
		if err != nil {
			return fmt.Errorf("parse receipt key %q: %w", k.KeyID, err)
		}
		if len(key) != ed25519.PublicKeySize {
			return fmt.Errorf("parse receipt key %q: %d bytes, want %d", k.KeyID, len(key), ed25519.PublicKeySize)
		}
		set[k.KeyID] = ed25519.PublicKey(key)
	}
	*ks = set
	return nil
}

// ParseKeySet reads a key set in the shape served at
// /.well-known/receipt-keys.json.
func ParseKeySet(data []byte) (KeySet, error) {
	var ks KeySet
	if err := json.Unmarshal(data, &ks); err != nil {
		return nil, err
	}
	return ks, nil
}
