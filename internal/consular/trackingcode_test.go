package consular

import (
	"strings"
	"testing"
	"time"
)

func TestNewTrackingCodesParseBackAndDiffer(t *testing.T) {
	seen := map[TrackingCode]bool{}
	for range 1000 {
		c, err := NewTrackingCode()
		if err != nil {
			t.Fatal(err)
		}
		if len(c) != len("4821-7730-9152-06") {
			t.Fatalf("code %q has the wrong shape", c)
		}
		back, err := ParseTrackingCode(string(c))
		if err != nil || back != c {
			t.Fatalf("parse(%q) = %q, %v", c, back, err)
		}
		if seen[c] {
			t.Fatalf("code %s drawn twice in 1000", c)
		}
		seen[c] = true
	}
}

func TestEverySingleMistypedDigitIsCaught(t *testing.T) {
	c, _ := NewTrackingCode()
	digits := strings.ReplaceAll(string(c), "-", "")
	for i := range digits {
		for d := byte('0'); d <= '9'; d++ {
			if d == digits[i] {
				continue
			}
			typo := digits[:i] + string(d) + digits[i+1:]
			if _, err := ParseTrackingCode(typo); err == nil {
				t.Fatalf("typo %s of %s accepted", typo, digits)
			}
		}
	}
	for i := 0; i+1 < len(digits); i++ {
		if digits[i] == digits[i+1] {
			continue
		}
		swapped := digits[:i] + string(digits[i+1]) + string(digits[i]) + digits[i+2:]
		if _, err := ParseTrackingCode(swapped); err == nil {
			t.Fatalf("swap %s of %s accepted", swapped, digits)
		}
	}
}

func TestTrackingCodeAcceptsWhatPeopleType(t *testing.T) {
	c, _ := NewTrackingCode()
	digits := strings.ReplaceAll(string(c), "-", "")
	persian := strings.Map(func(r rune) rune { return '۰' + (r - '0') }, digits)
	arabic := strings.Map(func(r rune) rune { return '٠' + (r - '0') }, digits)
	for _, typed := range []string{digits, persian, arabic, " " + digits[:4] + " " + digits[4:] + " ", string(c)} {
		got, err := ParseTrackingCode(typed)
		if err != nil || got != c {
			t.Errorf("ParseTrackingCode(%q) = %q, %v; want %q", typed, got, err, c)
		}
	}
	for _, bad := range []string{"", "1234", digits + "0", digits[:13], "ABCD-7730-9152-06", digits[:5] + "x" + digits[6:]} {
		if _, err := ParseTrackingCode(bad); err == nil {
			t.Errorf("ParseTrackingCode(%q) accepted", bad)
		}
	}
}

func TestSignedLinksExpireAndRefuseTampering(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	now := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	token := SignLink(key, "4821-7730-9152-06", now.Add(time.Hour))
	if code, ok := VerifyLink(key, token, now); !ok || code != "4821-7730-9152-06" {
		t.Fatalf("a fresh link: %q %v", code, ok)
	}
	if _, ok := VerifyLink(key, token, now.Add(2*time.Hour)); ok {
		t.Fatal("an expired link was accepted")
	}
	if _, ok := VerifyLink(key, strings.Replace(token, "4821", "4822", 1), now); ok {
		t.Fatal("a link naming another request was accepted")
	}
	if _, ok := VerifyLink([]byte("another key, another key, 32 b.."), token, now); ok {
		t.Fatal("a link signed with another key was accepted")
	}
}
