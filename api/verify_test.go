package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openconsular/consular/internal/config"
	"github.com/openconsular/consular/internal/receipt"
)

// A mission checks a printed receipt offline, against a saved copy of the
// published keys.
func TestVerifyReceiptOfflineFromSavedKeys(t *testing.T) {
	cfg, err := config.Load(func(k string) (string, bool) { return "development", k == "CONSULAR_ENV" })
	if err != nil {
		t.Fatal(err)
	}
	keys, err := json.Marshal(cfg.Keys.ReceiptKeys)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "receipt-keys.json")
	if err := os.WriteFile(file, keys, 0o644); err != nil {
		t.Fatal(err)
	}
	submitted := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	link := cfg.Keys.Receipt.Link("https://consular.example/receipts/verify", receipt.Receipt{
		TrackingCode: "4821-7730-9152-06", ServiceCode: "apostille", MissionCode: "FR-PAR",
		SubmittedAt: submitted, DeadlineAt: submitted.Add(90 * 24 * time.Hour)})

	var out bytes.Buffer
	if err := verifyReceipt(context.Background(), &out, "http://127.0.0.1:1/unreachable", []string{"-keys", file, link}); err != nil {
		t.Fatalf("genuine receipt refused: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "GENUINE") || !strings.Contains(out.String(), "4821-7730-9152-06") {
		t.Fatalf("output:\n%s", out.String())
	}
	forged := strings.Replace(link, "m=FR-PAR", "m=FR-PAS", 1)
	out.Reset()
	if err := verifyReceipt(context.Background(), &out, "", []string{"-keys", file, forged}); err == nil || !strings.Contains(out.String(), "NOT GENUINE") {
		t.Fatalf("a receipt with a changed mission verified: %v\n%s", err, out.String())
	}
}
