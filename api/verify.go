package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/openconsular/consular/internal/receipt"
)

// verifyReceipt checks a receipt's QR link against a key set read from a
// file (offline, e.g. a copy kept at the mission) or fetched from a URL.
func verifyReceipt(ctx context.Context, out io.Writer, defaultKeys string, args []string) error {
	flags := flag.NewFlagSet("verify-receipt", flag.ContinueOnError)
	keysFrom := flags.String("keys", defaultKeys, "receipt-keys.json: a file path, or a URL")
	if err := flags.Parse(args); err != nil {
		return err
	}
	if flags.NArg() != 1 {
		return errors.New("give the receipt's QR link (quote it for the shell)")
	}
	raw, err := readKeys(ctx, *keysFrom)
	if err != nil {
		return err
	}
	keys, err := receipt.ParseKeySet(raw)
	if err != nil {
		return fmt.Errorf("keys from %s: %w", *keysFrom, err)
	}
	f, err := receipt.Verify(flags.Arg(0), keys)
	if err != nil {
		fmt.Fprintln(out, "NOT GENUINE:", err)
		return err
	}
	fmt.Fprintf(out, "GENUINE receipt (key %s)\n  tracking code  %s\n  service        %s\n  mission        %s\n  submitted      %s\n  deadline       %s\n",
		f.KeyID, f.TrackingCode, f.ServiceCode, f.MissionCode, f.SubmittedAt.UTC().Format("2006-01-02 15:04 MST"), f.DeadlineAt.UTC().Format("2006-01-02 15:04 MST"))
	return nil
}

func readKeys(ctx context.Context, from string) ([]byte, error) {
	if !strings.HasPrefix(from, "http://") && !strings.HasPrefix(from, "https://") {
		return os.ReadFile(from)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, from, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch keys (save them to a file to verify offline): %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch keys from %s: %s", from, resp.Status)
	}
	return io.ReadAll(io.LimitReader(resp.Body, 1<<20))
}
