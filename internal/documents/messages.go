package documents

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Message tells the applicant, in Persian ("fa") or English (any other lang),
// what is wrong with the document and what to do. The messages live here, not
// in the web catalogues, because both the portal and the activity that
// re-checks a stored document report them, and the numbers in them come from
// the rule that was applied.
func (p *Problem) Message(lang string) string {
	fa := lang == "fa"
	if p.Reason == ReasonName {
		return p.nameMessage(fa)
	}
	text, ok := reasonMessages[p.Reason]
	if !ok {
		return notAccepted.in(fa)
	}
	return fmt.Sprintf(text.in(fa), p.messageArgs(fa)...)
}

// bilingual is a message in Persian and in English.
type bilingual struct{ fa, en string }

func (b bilingual) in(fa bool) string {
	if fa {
		return b.fa
	}
	return b.en
}

// reasonMessages are fmt formats: the file name, then the numbers
// messageArgs gives for the reason.
var reasonMessages = map[string]bilingual{
	ReasonEmpty: {
		fa: "فایل «%s» خالی است. لطفاً فایل را دوباره انتخاب و بارگذاری کنید.",
		en: "The file “%s” is empty. Please choose the file again and upload it.",
	},
	ReasonTooSmall: {
		fa: "حجم فایل «%s» %s کیلوبایت است؛ باید بین %s تا %s کیلوبایت باشد. لطفاً آن را با کیفیت بالاتری اسکن یا ذخیره کنید و دوباره بارگذاری کنید.",
		en: "The file “%s” is %s KB; it must be between %s and %s KB. Please scan or save it at a higher quality and upload it again.",
	},
	ReasonTooLarge: {
		fa: "حجم فایل «%s» بیشتر از %s کیلوبایت است؛ باید بین %s تا %s کیلوبایت باشد. لطفاً آن را با کیفیت یا ابعاد کمتری ذخیره کنید و دوباره بارگذاری کنید.",
		en: "The file “%s” is larger than %s KB; it must be between %s and %s KB. Please save it at a lower quality or a smaller size and upload it again.",
	},
	ReasonFormat: {
		fa: "فایل «%s» تصویر JPEG یا BMP نیست (تغییر دادن پسوند نام فایل کافی نیست). لطفاً سند را به‌صورت تصویر JPEG یا BMP ذخیره کنید و دوباره بارگذاری کنید.",
		en: "The file “%s” is not a JPEG or BMP image (renaming a file does not change its format). Please save the document as a JPEG or BMP image and upload it again.",
	},
	ReasonDimensions: {
		fa: "ابعاد تصویر «%s» %s × %s پیکسل است؛ هر ضلع حداکثر %s پیکسل و کل تصویر حداکثر %s مگاپیکسل می‌تواند باشد، که برای اسکن یک سند کافی است. لطفاً اندازهٔ تصویر را کوچک کنید و دوباره بارگذاری کنید.",
		en: "The image “%s” is %s × %s pixels; it may be at most %s pixels on each side and %s megapixels in total, which is enough for a scan of a document. Please resize the image and upload it again.",
	},
	ReasonTooManyPixels: {
		fa: "ابعاد تصویر «%s» %s × %s پیکسل است؛ تصویری که به این شکل ذخیره شده (برای نمونه JPEG پیشرونده یا progressive) حداکثر %s مگاپیکسل می‌تواند باشد. لطفاً اندازهٔ تصویر را کوچک کنید یا آن را به‌صورت JPEG معمولی ذخیره کنید و دوباره بارگذاری کنید.",
		en: "The image “%s” is %s × %s pixels; saved the way it is (a progressive JPEG, for example), it may be at most %s megapixels. Please resize the image or save it as an ordinary JPEG, and upload it again.",
	},
	ReasonCorrupt: {
		fa: "فایل «%s» خراب یا ناقص است و به‌صورت تصویر باز نمی‌شود. لطفاً آن را دوباره ذخیره کنید و بارگذاری کنید.",
		en: "The file “%s” is damaged or incomplete and cannot be opened as an image. Please save it again and upload it once more.",
	},
}

var notAccepted = bilingual{
	fa: "این سند پذیرفته نشد. لطفاً آن را دوباره بارگذاری کنید.",
	en: "The document was not accepted. Please upload it again.",
}

// messageArgs are what a reason's message names: the file name, then its
// numbers, in the message's digits.
func (p *Problem) messageArgs(fa bool) []any {
	digits := func(s string) string { return s }
	if fa {
		digits = persianDigits
	}
	num := func(n int) string { return digits(strconv.Itoa(n)) }
	// KB is 1,024 bytes: 102,400 bytes is "100 KB", as in the rule.
	minKB := num(int((p.rule.MinBytes + 1023) / 1024))
	maxKB := num(int(p.rule.MaxBytes / 1024))

	switch p.Reason {
	case ReasonTooSmall:
		// Rounded down, so 102,399 bytes reads "99 KB", not "100 KB".
		return []any{p.name, num(int(p.size / 1024)), minKB, maxKB}
	case ReasonTooLarge:
		// Reading stopped past the maximum, so the real size is unknown.
		return []any{p.name, maxKB, minKB, maxKB}
	case ReasonDimensions:
		return []any{p.name, num(p.width), num(p.height), num(p.rule.MaxSide), digits(megapixels(p.rule.MaxPixels))}
	case ReasonTooManyPixels:
		return []any{p.name, num(p.width), num(p.height), digits(megapixels(p.limit))}
	}
	return []any{p.name}
}

// nameMessage never repeats a refused name: it may hold control characters or
// text made to look like something else.
func (p *Problem) nameMessage(fa bool) string {
	if text, ok := nameMessages[p.nameIssue]; ok {
		return text.in(fa)
	}
	return badCharsMessage.in(fa)
}

var nameMessages = map[nameIssue]bilingual{
	nameMissing: {
		fa: "فایل نام ندارد. لطفاً فایل را دوباره انتخاب و بارگذاری کنید.",
		en: "The file has no name. Please choose the file again and upload it.",
	},
	nameTooLong: {
		fa: "نام فایل بیش از اندازه بلند است. لطفاً نام کوتاه‌تری به فایل بدهید و دوباره بارگذاری کنید.",
		en: "The file name is too long. Please give the file a shorter name and upload it again.",
	},
	nameBadExtension: {
		fa: "نام فایل باید به پسوند jpg، jpeg یا bmp ختم شود و خود فایل باید تصویر JPEG یا BMP باشد. لطفاً سند را به‌صورت تصویر JPEG یا BMP ذخیره کنید و دوباره بارگذاری کنید.",
		en: "The file name must end in .jpg, .jpeg or .bmp, and the file must be a JPEG or BMP image. Please save the document as a JPEG or BMP image and upload it again.",
	},
}

var badCharsMessage = bilingual{
	fa: "نام فایل نویسه‌های غیرمجاز دارد (مانند / یا \\ یا .. یا نویسه‌های کنترلی). لطفاً نام ساده‌ای به فایل بدهید و دوباره بارگذاری کنید.",
	en: `The file name contains characters that are not allowed (such as /, \, .. or control characters). Please give the file a simple name and upload it again.`,
}

// megapixels rounds down to one decimal, so the limit shown is never more
// than the limit applied.
func megapixels(pixels int) string {
	mp := math.Floor(float64(pixels)/100_000) / 10
	return strconv.FormatFloat(mp, 'f', -1, 64)
}

var persianDigitReplacer = strings.NewReplacer(
	"0", "۰", "1", "۱", "2", "۲", "3", "۳", "4", "۴",
	"5", "۵", "6", "۶", "7", "۷", "8", "۸", "9", "۹",
	".", "٫", // Persian decimal separator
)

// persianDigits converts a number formatted with ASCII digits. It is applied
// to numbers only, never to a whole message, so a file name keeps its digits.
func persianDigits(s string) string { return persianDigitReplacer.Replace(s) }
