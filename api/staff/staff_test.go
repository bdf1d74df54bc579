package staff

import (
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
)

func TestParsePeriods(t *testing.T) {
	got, err := parsePeriods("09:00-12:30, 14:00 - 16:00،17:00-18:00؛ ")
	if err != nil || len(got) != 3 || got[1] != [2]string{"14:00", "16:00"} || got[2] != [2]string{"17:00", "18:00"} {
		t.Fatalf("got %v, %v", got, err)
	}
	if got, err := parsePeriods(""); err != nil || len(got) != 0 {
		t.Fatalf("an empty day: %v, %v", got, err)
	}
	for _, bad := range []string{"9-12", "09:00", "09:00-", "25:00-26:00"} {
		if _, err := parsePeriods(bad); err == nil {
			t.Errorf("%q: want an error", bad)
		}
	}
}

func TestTOTPStepAllowsOneStepOfDrift(t *testing.T) {
	key, _ := totp.Generate(totp.GenerateOpts{Issuer: Issuer, AccountName: "a@mfa.example"})
	now := time.Unix(1_800_000_015, 0) // 15 s into a step
	for drift, ok := range map[int]bool{-2: false, -1: true, 0: true, 1: true, 2: false} {
		code, _ := totp.GenerateCode(key.Secret(), now.Add(time.Duration(drift)*30*time.Second))
		step, valid := totpStep(code, key.Secret(), now)
		if valid != ok || (ok && step != now.Unix()/30+int64(drift)) {
			t.Errorf("drift %d: step %d valid %v", drift, step, valid)
		}
	}
	code, _ := totp.GenerateCode(key.Secret(), now)
	persian := ""
	for _, r := range code {
		persian += string('۰' + r - '0')
	}
	if _, valid := totpStep(persian, key.Secret(), now); !valid {
		t.Error("a code typed in Persian digits is refused")
	}
}
