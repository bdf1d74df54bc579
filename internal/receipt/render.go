package receipt

import (
	"bytes"
	"errors"
	"fmt"
	"image/png"
	"strings"
	"sync"

	"github.com/signintech/gopdf"
	"github.com/skip2/go-qrcode"

	"github.com/openconsular/consular/internal/fonts"
)

// The words printed on every receipt. They live here rather than in the web
// message catalogues because a receipt always carries both languages, side
// by side: English in the left column, Persian in the right.
const (
	titleEn = "Consular request receipt"
	titleFa = "رسید ثبت درخواست خدمات کنسولی"

	trackingEn = "Tracking code"
	trackingFa = "کد پیگیری"

	serviceEn   = "Service"
	serviceFa   = "خدمت"
	missionEn   = "Mission"
	missionFa   = "نمایندگی"
	submittedEn = "Submitted on"
	submittedFa = "تاریخ ثبت"
	deadlineEn  = "Visit in person by"
	deadlineFa  = "مهلت مراجعهٔ حضوری"

	scanEn = "Scan to check that this receipt is genuine."
	scanFa = "برای بررسی اصالت این رسید، کد QR را اسکن کنید."

	nextStepsEn = "Next steps"
	nextStepsFa = "گام‌های بعدی"

	contactEn = "Contact the mission"
	contactFa = "تماس با نمایندگی"
	addressEn = "Address"
	addressFa = "نشانی"
	phoneEn   = "Phone"
	phoneFa   = "تلفن"
	emailEn   = "Email"
	emailFa   = "ایمیل"
	hoursEn   = "Opening hours"
	hoursFa   = "ساعت کار"
	pageEn    = "Mission's page"
	pageFa    = "صفحهٔ نمایندگی"
	unknownEn = "The address, phone and opening hours are on the mission's page:"
	unknownFa = "نشانی، تلفن و ساعت کار نمایندگی در صفحهٔ آن آمده است:"
	sideGap   = 10.0 // between the QR code and the mission's details
	sideW     = middleX - qrSize/2 - sideGap - leftX
)

var (
	stepsEn = []string{
		"Book an appointment before the deadline, using your national ID number and this tracking code.",
		"Come to the appointment in person, with your original Iranian photo ID.",
		"If you have not visited by the deadline, the request is archived automatically and you will need to submit a new one.",
		"The outcome will be sent to you by email only.",
	}
	stepsFa = []string{
		"پیش از پایان مهلت، با کد ملی خود و همین کد پیگیری نوبت بگیرید.",
		"در روز نوبت، با اصل مدرک شناسایی عکس‌دار ایرانی خود حضوری مراجعه کنید.",
		"اگر تا پایان مهلت مراجعه نکنید، درخواست به‌طور خودکار بایگانی می‌شود و باید درخواست تازه‌ای ثبت کنید.",
		"نتیجه فقط از راه ایمیل به شما اعلام می‌شود.",
	}
)

// Page geometry, in points (A4 is 595 x 842).
const (
	pageW     = 595.0
	pageH     = 842.0
	margin    = 48.0
	gutter    = 28.0
	columnW   = (pageW - 2*margin - gutter) / 2
	leftX     = margin           // English column starts here
	rightEdge = pageW - margin   // Persian column ends here
	middleX   = pageW / 2        // centre of the page
	qrSize    = 150.0            // about 53 mm: a module is ~0.8 mm at the usual link length
	indent    = 12.0             // room for a bullet
	ruleGray  = 180              // thin separators
	fontReg   = "vazirmatn"      // gopdf font family names
	fontBold  = "vazirmatn-bold" //
	lineRatio = 1.55             // line height as a multiple of the font size
)

type style struct {
	font string
	size float64
	gray uint8 // 0 is black
}

var (
	titleStyle   = style{fontBold, 17, 0}
	labelStyle   = style{fontReg, 9, 90}
	valueStyle   = style{fontBold, 11.5, 0}
	codeStyle    = style{fontBold, 32, 0}
	headingStyle = style{fontBold, 12, 0}
	bodyStyle    = style{fontReg, 10, 0}
	captionStyle = style{fontReg, 9, 60}
	contactStyle = style{fontReg, 9.5, 0}
	linkStyle    = style{fontReg, 8.5, 0}
)

// Render draws r as a one-page A4 PDF, with link (from Signer.Link) as a QR
// code. Fonts are embedded, so the receipt prints the same everywhere.
func Render(r Receipt, link string) ([]byte, error) {
	if r.TrackingCode == "" {
		return nil, errors.New("render receipt: no tracking code")
	}
	if !r.DeadlineAt.After(r.SubmittedAt) {
		return nil, fmt.Errorf("render receipt %s: deadline %s is not after submission %s", r.TrackingCode, r.DeadlineAt, r.SubmittedAt)
	}
	qr, err := qrPNG(link)
	if err != nil {
		return nil, fmt.Errorf("render receipt %s: QR code: %w", r.TrackingCode, err)
	}
	out, err := draw(r, qr)
	if errors.Is(err, errOverflow) && r.Contact.detailed() {
		// The mission's details are too long for one page: the receipt
		// sends the reader to the mission's page instead of spilling over.
		r.Contact = Contact{Page: r.Contact.Page}
		out, err = draw(r, qr)
	}
	if err != nil {
		return nil, fmt.Errorf("render receipt %s: %w", r.TrackingCode, err)
	}
	return out, nil
}

// errOverflow is text running past the bottom margin.
var errOverflow = errors.New("text runs past the bottom margin")

// draw lays r out on one A4 page with the QR code image qr.
func draw(r Receipt, qr []byte) ([]byte, error) {
	pdf, err := newPDF(r)
	if err != nil {
		return nil, fmt.Errorf("font: %w", err)
	}

	// The layout, top to bottom: each section starts at y and returns where
	// the next one starts.
	p := &page{pdf: pdf}
	y := p.header(margin)
	y = p.trackingCode(y, r.TrackingCode)
	y = p.details(y, r)
	y = p.qrCode(y, qr, r.Contact)
	p.nextSteps(y)

	if p.err != nil {
		return nil, p.err
	}
	return pdf.GetBytesPdfReturnErr()
}

// qrPNG draws link as a QR code.
func qrPNG(link string) ([]byte, error) {
	qr, err := qrcode.New(link, qrcode.Medium)
	if err != nil {
		return nil, err
	}
	// Eight pixels a module keeps the edges sharp when a viewer or printer
	// scales the image; the PNG stays a few kilobytes (two colours). The
	// fastest compression, not qrcode's PNG (the best): on a two-colour
	// image of long runs it makes a file barely larger, and the best took
	// half of a receipt's CPU searching for matches.
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	if err := enc.Encode(&buf, qr.Image(-8)); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// newPDF starts an A4 document with the fonts embedded and one blank page.
func newPDF(r Receipt) (*gopdf.GoPdf, error) {
	pdf := &gopdf.GoPdf{}
	pdf.Start(gopdf.Config{PageSize: *gopdf.PageSizeA4})
	// The creation date is the submission time, not the clock: the same
	// receipt then renders to the same bytes, so a retried activity stores
	// an identical file.
	pdf.SetInfo(gopdf.PdfInfo{Title: titleEn + " " + r.TrackingCode, Creator: "openconsular", CreationDate: r.SubmittedAt})
	parsed, err := parsedFonts()
	if err != nil {
		return nil, err
	}
	for _, family := range []string{fontReg, fontBold} {
		if err := pdf.AddTTFFontFromFontContainer(family, parsed); err != nil {
			return nil, fmt.Errorf("%s: %w", family, err)
		}
	}
	pdf.AddPage()
	return pdf, nil
}

// parsedFonts parses both TrueType fonts once per process, not once per
// receipt (about 2 ms of a receipt's CPU each time: BenchmarkRender). gopdf
// copies a parsed font out of the container for each document and only
// reads the shared tables after parsing (it subsets into buffers of the
// document's own), so renders running at once may share it
// (TestReceiptsRenderedAtOnceAreIdentical runs them under -race).
var parsedFonts = sync.OnceValues(func() (*gopdf.FontContainer, error) {
	var c gopdf.FontContainer
	if err := c.AddTTFFontData(fontReg, fonts.Regular()); err != nil {
		return nil, fmt.Errorf("parse %s: %w", fontReg, err)
	}
	if err := c.AddTTFFontData(fontBold, fonts.Bold()); err != nil {
		return nil, fmt.Errorf("parse %s: %w", fontBold, err)
	}
	return &c, nil
})

// header draws the title in both languages and a rule below it.
func (p *page) header(y float64) float64 {
	p.left(titleStyle, leftX, y, titleEn)
	p.right(titleStyle, rightEdge, y, titleFa)
	y += 34
	p.rule(y)
	return y
}

// trackingCode draws the one thing an applicant must not lose, so it is
// printed large, in ASCII digits, grouped as issued.
func (p *page) trackingCode(y float64, code string) float64 {
	y += 14
	p.box(leftX, y, rightEdge, y+78)
	p.left(labelStyle, leftX+12, y+8, trackingEn)
	p.right(labelStyle, rightEdge-12, y+8, trackingFa)
	p.centre(codeStyle, middleX, y+20, code)
	return y + 78 + 18
}

// details says what was requested, where, and by when.
func (p *page) details(y float64, r Receipt) float64 {
	rows := []struct{ labelEn, valueEn, labelFa, valueFa string }{
		{serviceEn, r.ServiceEn, serviceFa, r.ServiceFa},
		{missionEn, r.MissionEn, missionFa, r.MissionFa},
		{submittedEn, gregorian(r.SubmittedAt, r.Location), submittedFa, solarHijri(r.SubmittedAt, r.Location)},
		{deadlineEn, gregorian(r.DeadlineAt, r.Location), deadlineFa, solarHijri(r.DeadlineAt, r.Location)},
	}
	for _, row := range rows {
		yEn := p.paragraphEn(labelStyle, leftX, y, columnW, row.labelEn)
		yEn = p.paragraphEn(valueStyle, leftX, yEn, columnW, row.valueEn)
		yFa := p.paragraphFa(labelStyle, rightEdge, y, columnW, row.labelFa)
		yFa = p.paragraphFa(valueStyle, rightEdge, yFa, columnW, row.valueFa)
		y = max(yEn, yFa) + 8
	}
	y += 4
	p.rule(y)
	return y
}

// qrCode draws the QR code of the signed link, so anyone can check the
// receipt, with its caption; beside it, how to reach the mission (English
// to its left, Persian to its right), and below, the mission's page.
func (p *page) qrCode(y float64, png []byte, c Contact) float64 {
	y += 14
	p.image(png, middleX-qrSize/2, y, qrSize)
	yEn, yFa := p.contact(y, c)
	y = max(y+qrSize+4, yEn+6, yFa+6)
	yEn = p.paragraphEn(captionStyle, leftX, y, columnW, scanEn)
	yFa = p.paragraphFa(captionStyle, rightEdge, y, columnW, scanFa)
	y = max(yEn, yFa) + 8
	p.rule(y)
	return y
}

// contact draws the mission's address, phone, email and hours, each only
// if known, beside the QR code, and returns the y below each column. With
// none of address, phone and email known it says they are on the
// mission's page; the page's link ends both columns either way.
func (p *page) contact(y float64, c Contact) (yEn, yFa float64) {
	yEn = p.paragraphEn(headingStyle, leftX, y, sideW, contactEn) + 2
	yFa = p.paragraphFa(headingStyle, rightEdge, y, sideW, contactFa) + 2
	rows := []struct{ labelEn, labelFa, valueEn, valueFa string }{
		{addressEn, addressFa, c.Address, c.Address},
		{phoneEn, phoneFa, c.Phone, c.Phone},
		{emailEn, emailFa, c.Email, c.Email},
		{hoursEn, hoursFa, c.HoursEn, c.HoursFa},
	}
	for _, row := range rows {
		if row.valueEn == "" {
			continue
		}
		// Label and value on one line, so the block stays beside the QR
		// code.
		yEn = p.paragraphEn(contactStyle, leftX, yEn, sideW, row.labelEn+": "+row.valueEn) + 2
		if row.valueFa == row.valueEn { // an address, a number: Latin script
			yFa = p.latinAfterFa(contactStyle, rightEdge, yFa, sideW, row.labelFa+":", row.valueFa) + 2
		} else {
			yFa = p.paragraphFa(contactStyle, rightEdge, yFa, sideW, row.labelFa+": "+row.valueFa) + 2
		}
	}
	if c.Page == "" {
		return yEn, yFa
	}
	labelEn, labelFa := pageEn, pageFa
	if !c.known() {
		labelEn, labelFa = unknownEn, unknownFa
	}
	yEn = p.paragraphEn(labelStyle, leftX, yEn, sideW, labelEn)
	yEn = p.paragraphEn(linkStyle, leftX, yEn, sideW, c.Page)
	yFa = p.paragraphFa(labelStyle, rightEdge, yFa, sideW, labelFa)
	yFa = p.paragraphLatinRight(linkStyle, rightEdge, yFa, sideW, c.Page)
	return yEn, yFa
}

// latinAfterFa draws a Persian label ending at xRight with a left-to-right
// value (an address, a phone number) to its left, on the same line if it
// fits, else right-aligned on the lines below; it returns the y below.
// The value is drawn as it is: through the bidi reordering, the groups of
// "+43 1 712 2657" would come out in reverse order.
func (p *page) latinAfterFa(st style, xRight, y, w float64, label, value string) float64 {
	l := p.visual(label)
	lw := p.width(st, l) + p.width(st, " ")
	p.draw(st, xRight-p.width(st, l), y, l)
	if vw := p.width(st, value); vw <= w-lw {
		p.draw(st, xRight-lw-vw, y, value)
		return y + st.size*lineRatio
	}
	return p.paragraphLatinRight(st, xRight, y+st.size*lineRatio, w, value)
}

// nextSteps says what to do now. It is the last section: text that would
// run past the bottom margin is an error.
func (p *page) nextSteps(y float64) {
	y += 12
	yEn := p.paragraphEn(headingStyle, leftX, y, columnW, nextStepsEn) + 2
	yFa := p.paragraphFa(headingStyle, rightEdge, y, columnW, nextStepsFa) + 2
	for i := range stepsEn {
		p.left(bodyStyle, leftX, yEn, "•")
		yEn = p.paragraphEn(bodyStyle, leftX+indent, yEn, columnW-indent, stepsEn[i]) + 4
		p.right(bodyStyle, rightEdge, yFa, "•")
		yFa = p.paragraphFa(bodyStyle, rightEdge-indent, yFa, columnW-indent, stepsFa[i]) + 4
	}
	if bottom := max(yEn, yFa); p.err == nil && bottom > pageH-margin {
		p.err = fmt.Errorf("%w by %0.f pt", errOverflow, bottom-(pageH-margin))
	}
}

// page draws on a gopdf page and keeps the first error, so the layout above
// reads top to bottom without an error check after every line.
type page struct {
	pdf *gopdf.GoPdf
	err error
}

func (p *page) use(st style) {
	if p.err != nil {
		return
	}
	if err := p.pdf.SetFont(st.font, "", st.size); err != nil {
		p.err = fmt.Errorf("font %s: %w", st.font, err)
		return
	}
	p.pdf.SetTextColor(st.gray, st.gray, st.gray)
}

func (p *page) width(st style, text string) float64 {
	p.use(st)
	if p.err != nil {
		return 0
	}
	w, err := p.pdf.MeasureTextWidth(text)
	if err != nil {
		p.err = fmt.Errorf("measure %q: %w", text, err)
	}
	return w
}

// draw puts text (already in visual order) with its top-left corner at x, y.
func (p *page) draw(st style, x, y float64, text string) {
	p.use(st)
	if p.err != nil {
		return
	}
	p.pdf.SetXY(x, y)
	if err := p.pdf.Cell(nil, text); err != nil {
		p.err = fmt.Errorf("draw %q: %w", text, err)
	}
}

// left draws a left-to-right line starting at x.
func (p *page) left(st style, x, y float64, text string) {
	p.draw(st, x, y, text)
}

// right draws a Persian line ending at xRight.
func (p *page) right(st style, xRight, y float64, line string) {
	v := p.visual(line)
	p.draw(st, xRight-p.width(st, v), y, v)
}

// centre draws a left-to-right line centred on x.
func (p *page) centre(st style, x, y float64, text string) {
	p.draw(st, x-p.width(st, text)/2, y, text)
}

func (p *page) visual(line string) string {
	if p.err != nil {
		return ""
	}
	v, err := visual(line)
	if err != nil {
		p.err = err
	}
	return v
}

// paragraphEn wraps English text to width w from x and returns the y below it.
func (p *page) paragraphEn(st style, x, y, w float64, text string) float64 {
	for _, line := range p.wrap(st, text, w, func(s string) string { return s }) {
		p.draw(st, x, y, line)
		y += st.size * lineRatio
	}
	return y
}

// paragraphLatinRight wraps left-to-right text (an address, a number, a
// link) to width w, each line right-aligned at xRight as in the Persian
// column, and returns the y below it.
func (p *page) paragraphLatinRight(st style, xRight, y, w float64, text string) float64 {
	for _, line := range p.wrap(st, text, w, func(s string) string { return s }) {
		p.draw(st, xRight-p.width(st, line), y, line)
		y += st.size * lineRatio
	}
	return y
}

// paragraphFa wraps Persian text to width w, right-aligned at xRight, and
// returns the y below it.
func (p *page) paragraphFa(st style, xRight, y, w float64, text string) float64 {
	for _, line := range p.wrap(st, text, w, p.visual) {
		p.draw(st, xRight-p.width(st, line), y, line)
		y += st.size * lineRatio
	}
	return y
}

// wrap breaks text at spaces into lines no wider than w and returns them as
// drawn (through order). Lines are broken in logical order and only then
// reordered, so each line of a Persian paragraph reads on from the one above.
func (p *page) wrap(st style, text string, w float64, order func(string) string) []string {
	var lines []string
	var current string
	for _, word := range strings.Fields(text) {
		for i, piece := range p.pieces(st, word, w) {
			candidate := piece
			if current != "" {
				if i == 0 {
					candidate = current + " " + piece
				} else {
					candidate = current + piece // the rest of a broken word: no space
				}
			}
			if current != "" && p.width(st, order(candidate)) > w {
				lines = append(lines, order(current))
				candidate = piece
			}
			current = candidate
		}
	}
	if current != "" {
		lines = append(lines, order(current))
	}
	return lines
}

// pieces is word as it is when it fits in w, else broken after its
// slashes, dots, at signs and hyphens (a link, an email address), which
// have no spaces to break at.
func (p *page) pieces(st style, word string, w float64) []string {
	if p.width(st, word) <= w {
		return []string{word}
	}
	var out []string
	start := 0
	for i, r := range word {
		if strings.ContainsRune("/.@-", r) && i+1 < len(word) {
			out = append(out, word[start:i+1])
			start = i + 1
		}
	}
	return append(out, word[start:])
}

func (p *page) rule(y float64) {
	p.pdf.SetStrokeColor(ruleGray, ruleGray, ruleGray)
	p.pdf.SetLineWidth(0.6)
	p.pdf.Line(leftX, y, rightEdge, y)
}

func (p *page) box(x0, y0, x1, y1 float64) {
	if p.err != nil {
		return
	}
	p.pdf.SetStrokeColor(120, 120, 120)
	p.pdf.SetLineWidth(1)
	if err := p.pdf.Rectangle(x0, y0, x1, y1, "D", 6, 8); err != nil {
		p.err = fmt.Errorf("box: %w", err)
	}
}

func (p *page) image(png []byte, x, y, size float64) {
	if p.err != nil {
		return
	}
	img, err := gopdf.ImageHolderByBytes(png)
	if err != nil {
		p.err = fmt.Errorf("image: %w", err)
		return
	}
	if err := p.pdf.ImageByHolder(img, x, y, &gopdf.Rect{W: size, H: size}); err != nil {
		p.err = fmt.Errorf("image: %w", err)
	}
}
