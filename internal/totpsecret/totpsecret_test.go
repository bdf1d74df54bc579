package totpsecret

import (
	"bytes"
	"strings"
	"testing"

	"github.com/openconsular/consular/internal/codec"
)

func key(id string, b byte) codec.Key { return codec.Key{ID: id, Secret: bytes.Repeat([]byte{b}, 32)} }

func TestSealedSecretIsNotTheSecretAndOpensUnderEveryKnownKey(t *testing.T) {
	const secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
	old, _ := New([]codec.Key{key("k1", 1)})
	sealed, err := old.Seal(secret)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(sealed.Value, secret) || sealed.KeyID == nil || *sealed.KeyID != "k1" {
		t.Fatalf("sealed as %+v", sealed)
	}
	rotated, _ := New([]codec.Key{key("k2", 2), key("k1", 1)})
	if got, err := rotated.Open(sealed); err != nil || got != secret {
		t.Fatalf("open after rotation: %q, %v", got, err)
	}
	if !rotated.Stale(sealed) || old.Stale(sealed) || !old.Stale(Stored{Value: secret}) {
		t.Error("staleness: want stale under a rotated key and in clear only")
	}
	if got, err := old.Open(Stored{Value: secret}); err != nil || got != secret {
		t.Errorf("a secret in clear: %q, %v", got, err)
	}
}

func TestSealedSecretRefusesAnotherKeysName(t *testing.T) {
	box, _ := New([]codec.Key{key("k1", 1), key("k2", 1)}) // same bytes, another name
	sealed, _ := box.Seal("JBSWY3DPEHPK3PXP")
	other := "k2"
	if _, err := box.Open(Stored{Value: sealed.Value, KeyID: &other}); err == nil {
		t.Error("a ciphertext relabelled with another key's ID opened")
	}
	unknown := "k9"
	if _, err := box.Open(Stored{Value: sealed.Value, KeyID: &unknown}); err == nil || !strings.Contains(err.Error(), "CONSULAR_TOTP_KEY") {
		t.Errorf("an unknown key: %v, want an error naming CONSULAR_TOTP_KEY", err)
	}
}
