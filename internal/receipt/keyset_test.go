package receipt

import (
	"crypto/ed25519"
	"encoding/json"
	"strings"
	"testing"
)

func TestKeySetSurvivesTheWellKnownJSON(t *testing.T) {
	keys := keySetOf(testSigner("2025-01", 7), testSigner("2024-01", 3))

	data, err := json.Marshal(keys)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	// Sorted by kid, so the published file changes only when a key does.
	if !strings.HasPrefix(string(data), `{"keys":[{"kid":"2024-01","alg":"Ed25519","public_key":"`) {
		t.Errorf("unexpected shape: %s", data)
	}
	got, err := ParseKeySet(data)
	if err != nil {
		t.Fatalf("ParseKeySet(%s): %v", data, err)
	}
	if len(got) != len(keys) {
		t.Fatalf("got %d keys, want %d", len(got), len(keys))
	}
	for kid, key := range keys {
		if !key.Equal(got[kid]) {
			t.Errorf("key %q changed in the round trip", kid)
		}
	}

	// And a link signed before publication verifies against what was read back.
	signer := testSigner("2025-01", 7)
	if _, err := Verify(signer.Link(testVerifyURL, sampleReceipt(t)), got); err != nil {
		t.Errorf("Verify against parsed key set: %v", err)
	}
}

func TestEmptyKeySetMarshalsAsEmptyList(t *testing.T) {
	data, err := json.Marshal(KeySet{})
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != `{"keys":[]}` {
		t.Errorf("got %s", data)
	}
}

func TestParseKeySetRefusesDoubtfulKeys(t *testing.T) {
	pub := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)).Public().(ed25519.PublicKey)
	good, err := json.Marshal(KeySet{"k1": pub})
	if err != nil {
		t.Fatal(err)
	}
	encoded := strings.Split(string(good), `"public_key":"`)[1]
	encoded = encoded[:strings.IndexByte(encoded, '"')]
	for name, data := range map[string]string{
		"not JSON":      `keys`,
		"no kid":        `{"keys":[{"kid":"","alg":"Ed25519","public_key":"` + encoded + `"}]}`,
		"other alg":     `{"keys":[{"kid":"k1","alg":"RS256","public_key":"` + encoded + `"}]}`,
		"short key":     `{"keys":[{"kid":"k1","alg":"Ed25519","public_key":"` + encoded[:20] + `"}]}`,
		"padded base64": `{"keys":[{"kid":"k1","alg":"Ed25519","public_key":"` + encoded + `="}]}`,
		"kid twice": `{"keys":[{"kid":"k1","alg":"Ed25519","public_key":"` + encoded + `"},` +
			`{"kid":"k1","alg":"Ed25519","public_key":"` + encoded + `"}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := ParseKeySet([]byte(data)); err == nil {
				t.Errorf("ParseKeySet accepted %s", data)
			}
		})
	}
}
