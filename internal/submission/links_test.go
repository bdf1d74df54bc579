package submission

import (
	"testing"
	"time"

	"github.com/openconsular/consular/internal/config"
)

func TestReceiptTokensExpireAndServeOnePurpose(t *testing.T) {
	cfg, err := config.Load(func(k string) (string, bool) { return "test", k == "CONSULAR_ENV" })
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	const code = "1404-7K3M-9QX2"
	token := ReceiptToken(cfg.Keys.Receipts, code, now.Add(time.Hour))
	if !TokenNames(cfg.Keys.Receipts, token, code, now) {
		t.Fatal("a fresh token is refused")
	}
	if TokenNames(cfg.Keys.Receipts, token, code, now.Add(2*time.Hour)) {
		t.Error("an expired token is accepted")
	}
	if TokenNames(cfg.Keys.Submitted, token, code, now) || TokenNames(cfg.Keys.Links, token, code, now) {
		t.Error("a receipt token opens another purpose's door")
	}
	if TokenNames(cfg.Keys.Receipts, token, "1404-7K3M-9QX3", now) {
		t.Error("a token opens another request's receipt")
	}
}
