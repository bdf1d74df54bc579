package receipt

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestVerifyReturnsTheSignedFields(t *testing.T) {
	r := sampleReceipt(t)
	signer := testSigner("2025-01", 7)
	link := signer.Link(testVerifyURL, r)

	got, err := Verify(link, keySetOf(signer))
	if err != nil {
		t.Fatalf("Verify(%s): %v", link, err)
	}
	want := Fields{
		TrackingCode: r.TrackingCode,
		ServiceCode:  r.ServiceCode,
		MissionCode:  r.MissionCode,
		SubmittedAt:  r.SubmittedAt.UTC(),
		DeadlineAt:   r.DeadlineAt.UTC(),
		KeyID:        "2025-01",
	}
	if got != want {
		t.Errorf("Verify = %+v, want %+v", got, want)
	}
}

func TestVerifyAcceptsTheQueryAloneAndOtherParameters(t *testing.T) {
	r := sampleReceipt(t)
	signer := testSigner("2025-01", 7)
	keys := keySetOf(signer)

	link := signer.Link(testVerifyURL, r)
	if _, err := Verify(link[strings.IndexByte(link, '?')+1:], keys); err != nil {
		t.Errorf("query alone: %v", err)
	}
	withLang := signer.Link(testVerifyURL+"?lang=fa", r)
	if !strings.Contains(withLang, "?lang=fa&t=") {
		t.Errorf("Link did not keep the verify URL's own query: %s", withLang)
	}
	if _, err := Verify(withLang+"#top", keys); err != nil {
		t.Errorf("link with its own query and a fragment: %v", err)
	}
}

// Times are signed to the second: a link must not depend on how precisely
// the database stored the submission time.
func TestLinkSignsTimesToTheSecond(t *testing.T) {
	r := sampleReceipt(t)
	signer := testSigner("2025-01", 7)
	precise := r
	precise.SubmittedAt = r.SubmittedAt.Add(123456789 * time.Nanosecond)
	if a, b := signer.Link(testVerifyURL, r), signer.Link(testVerifyURL, precise); a != b {
		t.Errorf("links differ by a fraction of a second:\n%s\n%s", a, b)
	}
}

// A QR code of a few hundred characters still scans from paper at the size
// Render prints it; keep the link well inside that.
func TestLinkIsShortEnoughForAPrintedQRCode(t *testing.T) {
	link := testSigner("2025-01", 7).Link(testVerifyURL, sampleReceipt(t))
	if len(link) > 240 {
		t.Errorf("link is %d characters, want at most 240: %s", len(link), link)
	}
}

// TestVerifyRejectsEverySingleCharacterChange changes each character of each
// signed value and of the signature, to every character a person or a
// scanner might produce, and expects every one of those links to fail.
func TestVerifyRejectsEverySingleCharacterChange(t *testing.T) {
	signer := testSigner("2025-01", 7)
	keys := keySetOf(signer)
	link := signer.Link(testVerifyURL, sampleReceipt(t))

	const replacements = "0123456789" +
		"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ" +
		"-_.~+%&=#?/: "
	tried := 0
	for _, key := range []string{queryTracking, queryService, queryMission, querySubmitted, queryDeadline, queryKeyID, querySignature} {
		start, end := valueSpan(t, link, key)
		for i := start; i < end; i++ {
			for _, c := range []byte(replacements) {
				if link[i] == c {
					continue
				}
				changed := link[:i] + string(c) + link[i+1:]
				tried++
				_, err := Verify(changed, keys)
				if err == nil {
					t.Errorf("changing %s[%d] to %q still verifies: %s", key, i-start, c, changed)
					continue
				}
				if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnknownKey) && !errors.Is(err, ErrBadSignature) {
					t.Errorf("changing %s[%d] to %q: error %v is none of the three kinds", key, i-start, c, err)
				}
			}
		}
	}
	t.Logf("%d altered links rejected", tried)
}

// valueSpan returns where the value of key sits in link.
func valueSpan(t *testing.T, link, key string) (start, end int) {
	t.Helper()
	marker := "&" + key + "="
	if key == queryTracking {
		marker = "?" + key + "="
	}
	i := strings.Index(link, marker)
	if i < 0 {
		t.Fatalf("link has no %q: %s", marker, link)
	}
	start = i + len(marker)
	end = start + strings.IndexByte(link[start:]+"&", '&')
	return start, end
}

func TestVerifyRejectsUnknownKey(t *testing.T) {
	r := sampleReceipt(t)
	retired := testSigner("2019-01", 9)
	_, err := Verify(retired.Link(testVerifyURL, r), keySetOf(testSigner("2025-01", 7)))
	if !errors.Is(err, ErrUnknownKey) {
		t.Errorf("err = %v, want ErrUnknownKey", err)
	}
}

// A forger who reuses a published key ID with their own key gets a bad
// signature, not a pass.
func TestVerifyRejectsSignatureByAnotherKeyUnderAKnownID(t *testing.T) {
	r := sampleReceipt(t)
	forger := testSigner("2025-01", 66)
	_, err := Verify(forger.Link(testVerifyURL, r), keySetOf(testSigner("2025-01", 7)))
	if !errors.Is(err, ErrBadSignature) {
		t.Errorf("err = %v, want ErrBadSignature", err)
	}
}

func TestVerifyAcceptsLinksSignedWithAnOlderKeyStillInTheSet(t *testing.T) {
	r := sampleReceipt(t)
	older, current := testSigner("2024-01", 3), testSigner("2025-01", 7)
	if _, err := Verify(older.Link(testVerifyURL, r), keySetOf(older, current)); err != nil {
		t.Errorf("Verify: %v", err)
	}
}

func TestVerifyReportsMalformedLinks(t *testing.T) {
	signer := testSigner("2025-01", 7)
	keys := keySetOf(signer)
	good := signer.Link(testVerifyURL, sampleReceipt(t))
	u, err := url.Parse(good)
	if err != nil {
		t.Fatal(err)
	}
	edit := func(change func(url.Values)) string {
		q := u.Query()
		change(q)
		return testVerifyURL + "?" + q.Encode()
	}
	for name, link := range map[string]string{
		"empty":               "",
		"not a receipt link":  "https://consular.example.org/",
		"no signature":        edit(func(q url.Values) { q.Del(querySignature) }),
		"no tracking code":    edit(func(q url.Values) { q.Del(queryTracking) }),
		"tracking code twice": edit(func(q url.Values) { q.Add(queryTracking, "1111-2222-3333-44") }),
		"empty mission":       edit(func(q url.Values) { q.Set(queryMission, "") }),
		"line break in value": edit(func(q url.Values) { q.Set(queryService, "passport\nrenewal") }),
		"date not a number":   edit(func(q url.Values) { q.Set(querySubmitted, "2025-03-21") }),
		"date with a zero":    edit(func(q url.Values) { q.Set(querySubmitted, "0"+q.Get(querySubmitted)) }),
		"short signature":     edit(func(q url.Values) { q.Set(querySignature, q.Get(querySignature)[:40]) }),
		"padded signature":    edit(func(q url.Values) { q.Set(querySignature, q.Get(querySignature)+"==") }),
		"bad escape":          good + "&x=%zz",
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := Verify(link, keys); !errors.Is(err, ErrMalformed) {
				t.Errorf("err = %v, want ErrMalformed", err)
			}
		})
	}
}
