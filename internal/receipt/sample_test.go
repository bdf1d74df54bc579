package receipt

import (
	"bytes"
	"crypto/ed25519"
	"testing"
	"time"
	_ "time/tzdata" // the tests must not depend on the machine's zone files
)

// The receipt every test uses: a passport renewal at the embassy in Vienna,
// submitted on Nowruz 1404 (21 March 2025).
func sampleReceipt(t *testing.T) Receipt {
	t.Helper()
	vienna, err := time.LoadLocation("Europe/Vienna")
	if err != nil {
		t.Fatalf("load zone: %v", err)
	}
	submitted := time.Date(2025, 3, 21, 10, 30, 15, 0, vienna)
	return Receipt{
		TrackingCode: "4821-7730-9152-06",
		ServiceCode:  "passport-renewal",
		ServiceFa:    "تمدید گذرنامه",
		ServiceEn:    "Passport renewal",
		MissionCode:  "at-vie",
		MissionFa:    "سفارت جمهوری اسلامی ایران در وین",
		MissionEn:    "Embassy of the Islamic Republic of Iran in Vienna",
		SubmittedAt:  submitted,
		DeadlineAt:   submitted.Add(90 * 24 * time.Hour),
		Location:     vienna,
	}
}

// testSigner is deterministic, so a failing test fails the same way twice.
func testSigner(kid string, seedByte byte) Signer {
	return Signer{KeyID: kid, Key: ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seedByte}, ed25519.SeedSize))}
}

func keySetOf(signers ...Signer) KeySet {
	ks := KeySet{}
	for _, s := range signers {
		ks[s.KeyID] = s.Key.Public().(ed25519.PublicKey)
	}
	return ks
}

const testVerifyURL = "https://consular.example.org/verify"
