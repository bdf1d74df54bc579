package activities

import (
	"testing"

	"github.com/openconsular/consular/internal/receipt"
)

// The receipt's mission block is what missions.json knows of the mission,
// nothing made up, and its page under the portal's address (the
// verification page's, without its path).
func TestReceiptContactIsTheMissionsDataAndItsPage(t *testing.T) {
	r := &Receipts{VerifyURL: "https://consular.example/portal/receipts/verify"}
	if got, want := r.contact("AT-VIE"), (receipt.Contact{Address: "Jaurèsgasse 9, 1030 Wien",
		Page: "https://consular.example/portal/missions/AT-VIE"}); got != want {
		t.Errorf("Vienna: %+v, want %+v", got, want)
	}
	if got, want := r.contact("JP-TYO"), (receipt.Contact{Page: "https://consular.example/portal/missions/JP-TYO"}); got != want {
		t.Errorf("Tokyo (no details confirmed): %+v, want %+v", got, want)
	}
	// A verification address elsewhere gives no guessed page.
	if got := (&Receipts{VerifyURL: "https://verify.example/check"}).contact("AT-VIE"); got.Page != "" {
		t.Errorf("a page guessed from an unexpected verification address: %q", got.Page)
	}
}
