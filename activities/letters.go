package activities

import (
	"bytes"
	"html/template"
	"strconv"
	"strings"
	"time"

	"github.com/openconsular/consular/internal/consular"
	"github.com/openconsular/consular/internal/i18n"
)

// letterFacts is everything an email may mention.
type letterFacts struct {
	MailInput
	Email    string
	Name     string
	Service  consular.Service
	Mission  consular.Text
	Location *time.Location
	// ChangeLink opens the appointment pages for this request (signed, valid
	// until the appointment; the national ID is still asked).
	ChangeLink string
	// MissionCode and PublicURL name the mission's page on the portal for
	// the footer; the rest of it comes from missions.json.
	MissionCode string
	PublicURL   string
	// Correction is what an officer corrected (MailCorrection).
	Correction correctionFacts
}

// letter is one email's words in one language.
type letter struct {
	Lang       string
	Subject    string
	Paragraphs []string
}

func (f letterFacts) date(t time.Time, lang string) string {
	return i18n.Date(t.In(f.Location), lang)
}

func (f letterFacts) dateTime(t time.Time, lang string) string {
	return i18n.DateTime(t.In(f.Location), lang)
}

// cutoffHours is how many hours before the appointment it can still be
// changed online: the request's policy, or the default for a request that
// started without one.
func (f letterFacts) cutoffHours() int {
	if f.ChangeCutoff <= 0 {
		return 24
	}
	return int(f.ChangeCutoff.Hours())
}

func (f letterFacts) code(lang string) string {
	if lang == i18n.Persian {
		return "\u2066" + f.TrackingCode + "\u2069" // keep the code left to right inside Persian text
	}
	return f.TrackingCode
}

// words holds what every email of a request says in one language: the
// greeting, the request named mid-sentence (about) and at a sentence's
// start (About), the deadline and how to book.
type words struct {
	fa                                         bool
	greeting, about, About, deadline, bookHint string
	bring                                      string // what to bring to the visit
}

func (w words) pick(fa, en string) string {
	if w.fa {
		return fa
	}
	return en
}

func wordsFor(f letterFacts, lang string) words {
	w := words{fa: lang == i18n.Persian}
	w.greeting = w.pick(f.Name+" گرامی،", "Dear "+f.Name+",")
	w.about = w.pick("درخواست "+f.Service.Name.Fa+" شما در "+f.Mission.Fa+" با کد پیگیری "+f.code(lang),
		"your request for "+f.Service.Name.En+" at the "+f.Mission.En+" (tracking code "+f.code(lang)+")")
	w.About = w.about
	if !w.fa {
		w.About = "Y" + w.about[1:]
	}
	w.deadline = f.date(f.Deadline, lang)
	w.bookHint = w.pick("برای رزرو نوبت، کد ملی و کد پیگیری خود را در سامانه نوبت‌دهی وارد کنید و در روز نوبت با اصل مدرک شناسایی عکس‌دار ایرانی حضور یابید.",
		"To book an appointment, enter your national ID and tracking code in the appointment system, and attend on the day with your original Iranian photo ID.")
	w.bring = w.pick("کد پیگیری "+f.code(lang)+" و اصل مدرک شناسایی عکس‌دار ایرانی خود را همراه داشته باشید.",
		"Please bring your tracking code, "+f.code(lang)+", and your original Iranian photo ID.")
	return w
}

// compose writes the email of kind in lang. Every email names the request by
// tracking code, service and mission, and says what the applicant can do next.
func compose(kind MailKind, f letterFacts, lang string) letter {
	w := wordsFor(f, lang)
	l, ok := appointmentLetter(kind, f, lang, w)
	if !ok {
		l = requestLetter(kind, f, lang, w)
	}
	l.Lang = lang
	l.Paragraphs = append(l.Paragraphs, w.pick("این پیام خودکار است؛ به آن پاسخ ندهید.", "This message is automatic; please do not reply."))
	if footer := missionFooter(f, lang); footer != "" {
		l.Paragraphs = append(l.Paragraphs, footer)
	}
	return l
}

// missionFooter is how to reach the mission, ending every email: its name,
// then its address, phone, email and opening hours, each only if
// missions.json knows it, and its page on the portal. With none of
// address, phone and email known, it says they are on that page. The lines
// are one paragraph; Latin values stay left to right inside Persian lines.
func missionFooter(f letterFacts, lang string) string {
	fa := lang == i18n.Persian
	pick := func(faText, enText string) string {
		if fa {
			return faText
		}
		return enText
	}
	latin := func(s string) string {
		if fa {
			return "\u2066" + s + "\u2069"
		}
		return s
	}
	m, _ := consular.Missions.Mission(f.MissionCode)
	lines := []string{f.Mission.In(lang)}
	if m.Address != "" {
		lines = append(lines, pick("نشانی: ", "Address: ")+latin(m.Address))
	}
	if m.Phone != "" {
		lines = append(lines, pick("تلفن: ", "Phone: ")+latin(m.Phone))
	}
	if m.Email != "" {
		lines = append(lines, pick("ایمیل: ", "Email: ")+latin(m.Email))
	}
	if hours := m.Hours.In(lang); hours != "" {
		lines = append(lines, pick("ساعت کار: ", "Opening hours: ")+hours)
	}
	if f.PublicURL != "" && f.MissionCode != "" {
		page := latin(f.PublicURL + "/missions/" + f.MissionCode)
		if m.Address == "" && m.Phone == "" && m.Email == "" {
			lines = append(lines, pick("نشانی، تلفن و ساعت کار نمایندگی: ", "The mission's address, phone and opening hours: ")+page)
		} else {
			lines = append(lines, pick("صفحهٔ نمایندگی: ", "The mission's page: ")+page)
		}
	}
	if lines[0] == "" {
		return ""
	}
	return strings.Join(lines, "\n")
}

// appointmentLetter writes the emails about the appointment: booked,
// reminded, cancelled, missed; ok is false for other kinds.
func appointmentLetter(kind MailKind, f letterFacts, lang string, w words) (l letter, ok bool) {
	at := f.dateTime(f.Appointment, lang)
	switch kind {
	case MailAppointmentBooked:
		l.Subject = w.pick("نوبت شما: "+at, "Your appointment: "+at)
		l.Paragraphs = []string{w.greeting,
			w.pick("برای "+w.about+" نوبت "+at+" (به وقت محلی نمایندگی) ثبت شد.", "An appointment on "+at+" (the mission's local time) has been booked for "+w.about+"."),
			w.bring}
		if f.ChangeLink != "" {
			hours := strconv.Itoa(f.cutoffHours())
			l.Paragraphs = append(l.Paragraphs, w.pick("برای جابه‌جایی یا لغو نوبت (تا "+i18n.PersianDigits(hours)+" ساعت پیش از آن): ",
				"To move or cancel it (up to "+hours+" hours before): ")+f.ChangeLink)
		}
	case MailAppointmentReminder:
		l.Subject = w.pick("یادآوری نوبت: "+at, "Appointment reminder: "+at)
		l.Paragraphs = []string{w.greeting,
			w.pick("نوبت "+w.about+" فردا، "+at+" (به وقت محلی نمایندگی) است.", "The appointment for "+w.about+" is tomorrow, "+at+" (the mission's local time)."),
			w.bring}
	case MailAppointmentCancelled:
		l.Subject = w.pick("نوبت درخواست "+f.code(lang)+" لغو شد", "Appointment for request "+f.code(lang)+" cancelled")
		l.Paragraphs = []string{w.greeting,
			w.pick("نوبت "+w.about+" لغو شد. تا "+w.deadline+" می‌توانید نوبت تازه‌ای بگیرید.", "The appointment for "+w.about+" has been cancelled. You can book a new one until "+w.deadline+"."),
			w.bookHint}
	case MailNoShow:
		l.Subject = w.pick("در نوبت درخواست "+f.code(lang)+" حاضر نشدید", "You missed the appointment for request "+f.code(lang))
		l.Paragraphs = []string{w.greeting,
			w.pick("در نوبت "+w.about+" حضور نیافتید. تا "+w.deadline+" می‌توانید نوبت تازه‌ای بگیرید.", "You did not attend the appointment for "+w.about+". You can book a new one until "+w.deadline+"."),
			w.bookHint}
	default:
		return l, false
	}
	return l, true
}

// requestLetter writes the emails about the request itself: received,
// documents refused, reminded, given more time, archived, decided, withdrawn.
func requestLetter(kind MailKind, f letterFacts, lang string, w words) letter {
	var l letter
	about, About, deadline, pick := w.about, w.About, w.deadline, w.pick
	switch kind {
	case MailReceipt:
		l.Subject = pick("رسید درخواست "+f.code(lang), "Receipt for request "+f.code(lang))
		l.Paragraphs = []string{w.greeting,
			pick(about+" ثبت شد. رسید آن پیوست است.", About+" has been received. The receipt is attached."),
			pick("تا "+deadline+" برای حضور در نمایندگی فرصت دارید. "+w.bookHint, "You have until "+deadline+" to attend in person. "+w.bookHint),
			w.bring,
			pick("اگر تا این تاریخ حضور نیابید، درخواست به‌طور خودکار بایگانی می‌شود و باید درخواست تازه‌ای ثبت کنید. نتیجه فقط از راه ایمیل به شما اعلام می‌شود.",
				"If you have not attended by then, the request is archived automatically and you will need to apply again. Outcomes are sent by email only."),
		}
	case MailDocumentsRejected:
		l.Subject = pick("مدارک درخواست "+f.code(lang)+" پذیرفته نشد", "Documents of request "+f.code(lang)+" not accepted")
		l.Paragraphs = []string{w.greeting, pick(about+" پذیرفته نشد، زیرا این مدارک مشکل دارند:", About+" could not be accepted because of these documents:")}
		for _, p := range f.Problems {
			name := p.Kind
			if d, ok := f.Service.Document(p.Kind); ok {
				name = d.Name.In(lang)
			}
			l.Paragraphs = append(l.Paragraphs, "• "+name+": "+pick(p.Fa, p.En))
		}
		l.Paragraphs = append(l.Paragraphs, pick("مدارک بارگذاری‌شده حذف شدند. لطفاً با مدارک درست، درخواست تازه‌ای ثبت کنید.",
			"The uploaded documents have been deleted. Please apply again with corrected documents."))
	case MailReminder:
		l.Subject = pick("یادآوری: تا "+deadline+" نوبت بگیرید", "Reminder: book an appointment before "+deadline)
		l.Paragraphs = []string{w.greeting,
			pick(about+" هنوز نوبت ندارد. مهلت حضور شما "+deadline+" است.", About+" has no appointment yet. Your deadline to attend is "+deadline+"."),
			w.bookHint}
	case MailDeadlineExtended:
		l.Subject = pick("مهلت درخواست "+f.code(lang)+" تمدید شد", "Deadline of request "+f.code(lang)+" extended")
		l.Paragraphs = []string{w.greeting,
			pick("مهلت حضور برای "+about+" تا "+deadline+" تمدید شد.", "The deadline to attend for "+about+" has been extended to "+deadline+"."),
			w.bookHint}
	case MailArchived:
		l.Subject = pick("درخواست "+f.code(lang)+" بایگانی شد", "Request "+f.code(lang)+" archived")
		l.Paragraphs = []string{w.greeting,
			pick(about+" چون تا "+deadline+" حضور نیافتید، بایگانی شد و مدارک آن حذف شدند.",
				About+" was archived because you did not attend by "+deadline+". Its documents have been deleted."),
			pick("برای دریافت این خدمت، لطفاً درخواست تازه‌ای ثبت کنید.", "To receive this service, please submit a new request.")}
	case MailDecision:
		l.Subject = pick("نتیجه درخواست "+f.code(lang), "Outcome of request "+f.code(lang))
		l.Paragraphs = []string{w.greeting, decisionWords(f.Decision, w)}
		if f.Reason != "" {
			l.Paragraphs = append(l.Paragraphs, pick("توضیح نمایندگی: ", "The mission's explanation: ")+f.Reason)
		}
	case MailCorrection:
		l = correctionLetter(f, lang, w)
	case MailWithdrawn:
		l.Subject = pick("درخواست "+f.code(lang)+" پس گرفته شد", "Request "+f.code(lang)+" withdrawn")
		l.Paragraphs = []string{w.greeting,
			pick(about+" به خواست شما پس گرفته شد و مدارک آن حذف شدند.", About+" has been withdrawn as you asked. Its documents have been deleted.")}
	}
	return l
}

// decisionWords says the mission's outcome.
func decisionWords(d consular.Status, w words) string {
	switch d {
	case consular.StatusApproved:
		return w.pick(w.about+" تأیید شد. نمایندگی برای گام بعد با شما تماس می‌گیرد.", w.About+" has been approved. The mission will contact you about the next step.")
	case consular.StatusCompleted:
		return w.pick(w.about+" انجام شد.", w.About+" has been completed.")
	}
	return w.pick(w.about+" رد شد.", w.About+" has been rejected.")
}

// plainText is the text part: Persian first, then English.
func plainText(fa, en letter) string {
	var b strings.Builder
	for i, l := range []letter{fa, en} {
		if i > 0 {
			b.WriteString("\n----------------------------------------\n\n")
		}
		b.WriteString(strings.NewReplacer("\u2066", "", "\u2069", "").Replace(strings.Join(l.Paragraphs, "\n\n")))
		b.WriteString("\n")
	}
	return b.String()
}

var htmlLetter = template.Must(template.New("letter").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{{(index . 0).Subject}}</title></head>
<body style="font-family: Vazirmatn, Tahoma, Arial, sans-serif; line-height: 1.6; color: #1a1a1a">
{{range .}}<div lang="{{.Lang}}" dir="{{if eq .Lang "fa"}}rtl{{else}}ltr{{end}}" style="margin-bottom: 2em">
{{range .Paragraphs}}<p style="white-space: pre-line">{{.}}</p>
{{end}}</div>
{{end}}</body></html>
`))

// htmlBody is the HTML part, Persian right to left, then English.
func htmlBody(fa, en letter) (string, error) {
	var b bytes.Buffer
	err := htmlLetter.Execute(&b, []letter{fa, en})
	return b.String(), err
}
