package receipt

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/signintech/gopdf"
	"golang.org/x/text/unicode/bidi"
)

// gopdf draws runes strictly left to right and does not shape, so every
// Persian line is turned into its visual form here first: the string whose
// runes, drawn left to right, read correctly right to left.

const (
	lri = "\u2066" // left-to-right isolate
	pdi = "\u2069" // pop directional isolate
)

// codePattern matches codes whose separators the bidi algorithm would
// otherwise treat as neutrals and flip around, e.g. the hyphens of
// 1404-7K3M-9QX2 or the dots of an address.
var codePattern = regexp.MustCompile(`[0-9A-Za-z]+(?:[-./][0-9A-Za-z]+)+`)

// mirrored swaps brackets in right-to-left runs: reversing "(وین)" gives
// ")نیو(", which must be drawn as "(نیو)" for the brackets to face the text.
var mirrored = strings.NewReplacer(
	"(", ")", ")", "(",
	"[", "]", "]", "[",
	"{", "}", "}", "{",
	"<", ">", ">", "<",
	"«", "»", "»", "«",
)

// invisible removes the marks that have done their work by the time a line
// is shaped and ordered: the isolates (and any LRM/RLM/ALM in the input) set
// the order, and the zero-width non-joiner already stopped the joining of
// letters (as in "می‌شود"). A font need not have glyphs for them.
var invisible = strings.NewReplacer(
	"\u2066", "", "\u2067", "", "\u2068", "", "\u2069", "",
	"\u200e", "", "\u200f", "", "\u061c", "", "\u200c", "",
)

// visual returns a right-to-left (Persian) line in the order gopdf must draw
// it: the line is split into directional runs with the Unicode bidi
// algorithm (paragraph direction right to left), the runs are put in reverse
// order, and each right-to-left run is shaped (letters joined, reversed) with
// gopdf's ToArabic and has its brackets mirrored. Left-to-right runs (Latin,
// digits, codes) keep their order. Codes are wrapped in LRI...PDI first, so
// 4821-7730-9152-06 stays one piece.
func visual(line string) (string, error) {
	if line == "" {
		return "", nil
	}
	isolated := codePattern.ReplaceAllStringFunc(line, func(code string) string {
		return lri + code + pdi
	})
	var p bidi.Paragraph
	n, err := p.SetString(isolated, bidi.DefaultDirection(bidi.RightToLeft))
	if err != nil {
		return "", fmt.Errorf("bidi %q: %w", line, err)
	}
	if n < len(isolated) {
		// SetString stops at a paragraph separator; drawing only part of the
		// line would lose text without a trace.
		return "", fmt.Errorf("bidi %q: line holds a paragraph separator", line)
	}
	order, err := p.Order()
	if err != nil {
		return "", fmt.Errorf("bidi %q: %w", line, err)
	}
	// Order hands the runs back in logical order; on a right-to-left line
	// the first of them is drawn rightmost, so walk them backwards.
	var b strings.Builder
	for i := order.NumRuns() - 1; i >= 0; i-- {
		run := order.Run(i)
		text := run.String()
		if run.Direction() == bidi.RightToLeft {
			text = mirrored.Replace(gopdf.ToArabic(text))
		}
		b.WriteString(text)
	}
	return invisible.Replace(b.String()), nil
}
