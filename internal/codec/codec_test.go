package codec

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"testing"

	"go.temporal.io/sdk/converter"
)

func newKey(t *testing.T, id string) Key {
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		t.Fatal(err)
	}
	return Key{ID: id, Secret: secret}
}

func TestPayloadsAreEncryptedAndDecryptAfterKeyRotation(t *testing.T) {
	old := newKey(t, "2026-01")
	oldCodec, err := New([]Key{old})
	if err != nil {
		t.Fatal(err)
	}
	secret := "applicant@example.org 0013542419"
	payload, err := oldCodec.DataConverter().ToPayload(secret)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(payload.GetData(), []byte("applicant@example.org")) || bytes.Contains(payload.GetData(), []byte("0013542419")) {
		t.Fatal("encrypted payload contains the plain text")
	}
	if got := string(payload.GetMetadata()[MetadataKeyID]); got != "2026-01" {
		t.Fatalf("key ID in metadata = %q", got)
	}

	rotated, err := New([]Key{newKey(t, "2026-07"), old}) // new active key, old one still decrypts
	if err != nil {
		t.Fatal(err)
	}
	var back string
	if err := rotated.DataConverter().FromPayload(payload, &back); err != nil || back != secret {
		t.Fatalf("after rotation: %q, %v", back, err)
	}
	fresh, _ := rotated.DataConverter().ToPayload(secret)
	if got := string(fresh.GetMetadata()[MetadataKeyID]); got != "2026-07" {
		t.Fatalf("new payloads use key %q, want the active 2026-07", got)
	}

	withoutOld, _ := New([]Key{newKey(t, "2026-07")})
	if err := withoutOld.DataConverter().FromPayload(payload, &back); err == nil {
		t.Fatal("decrypted without the key")
	}
}

func TestTamperedPayloadIsRefused(t *testing.T) {
	c, _ := New([]Key{newKey(t, "k1")})
	payload, _ := c.DataConverter().ToPayload("hello")
	payload.Data[len(payload.Data)-1] ^= 1
	var s string
	if err := c.DataConverter().FromPayload(payload, &s); err == nil {
		t.Fatal("tampered payload decrypted")
	}
}

func TestUnencryptedPayloadsPassThrough(t *testing.T) {
	c, _ := New([]Key{newKey(t, "k1")})
	plain, _ := converter.GetDefaultDataConverter().ToPayload("old history")
	var s string
	if err := c.DataConverter().FromPayload(plain, &s); err != nil || s != "old history" {
		t.Fatalf("%q, %v", s, err)
	}
}

func TestParseKeys(t *testing.T) {
	k := base64.StdEncoding.EncodeToString(make([]byte, 32))
	keys, err := ParseKeys("new:" + k + ", old:" + k)
	if err != nil || len(keys) != 2 || keys[0].ID != "new" {
		t.Fatalf("%v %v", keys, err)
	}
	for _, bad := range []string{"", "nokey", "k:notbase64!", "k:" + base64.StdEncoding.EncodeToString(make([]byte, 16))} {
		if _, err := ParseKeys(bad); err == nil {
			t.Errorf("ParseKeys(%q) accepted", bad)
		}
	}
}
