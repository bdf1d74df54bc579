package activities

import (
	"bytes"
	"html/template"
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

func (f letterFacts) code(lang string) string {
	if lang == i18n.Persian {
		return "\u2066" + f.TrackingCode + "\u2069" // keep the code left to right inside Persian text
	}
	return f.TrackingCode
}

// compose writes the email of kind in lang. Every email names the request by
// tracking code, service and mission, and says what the applicant can do next.
func compose(kind MailKind, f letterFacts, lang string) letter {
	fa := lang == i18n.Persian
	pick := func(p, e string) string {
		if fa {
			return p
		}
		return e
	}
	l := letter{Lang: lang}
	greeting := pick(f.Name+" گرامی،", "Dear "+f.Name+",")
	// about names the request mid-sentence; About starts a sentence with it.
	about := pick("درخواست "+f.Service.Name.Fa+" شما در "+f.Mission.Fa+" با کد پیگیری "+f.code(lang),
		"your request for "+f.Service.Name.En+" at the "+f.Mission.En+" (tracking code "+f.code(lang)+")")
	About := about
	if !fa {
		About = "Y" + about[1:]
	}
	deadline := f.date(f.Deadline, lang)
	bookHint := pick("برای رزرو نوبت، کد ملی و کد پیگیری خود را در سامانه نوبت‌دهی وارد کنید و در روز نوبت با اصل مدرک شناسایی عکس‌دار ایرانی حضور یابید.",
		"To book an appointment, enter your national ID and tracking code in the appointment system, and attend on the day with your original Iranian photo ID.")

	switch kind {
	case MailReceipt:
		l.Subject = pick("رسید درخواست "+f.code(lang), "Receipt for request "+f.code(lang))
		l.Paragraphs = []string{greeting,
			pick(about+" ثبت شد. رسید آن پیوست است.", About+" has been received. The receipt is attached."),
			pick("تا "+deadline+" برای حضور در نمایندگی فرصت دارید. "+bookHint, "You have until "+deadline+" to attend in person. "+bookHint),
			pick("اگر تا این تاریخ حضور نیابید، درخواست به‌طور خودکار بایگانی می‌شود و باید درخواست تازه‌ای ثبت کنید. نتیجه فقط از راه ایمیل به شما اعلام می‌شود.",
				"If you have not attended by then, the request is archived automatically and you will need to apply again. Outcomes are sent by email only."),
		}
	case MailDocumentsRejected:
		l.Subject = pick("مدارک درخواست "+f.code(lang)+" پذیرفته نشد", "Documents of request "+f.code(lang)+" not accepted")
		l.Paragraphs = []string{greeting, pick(about+" پذیرفته نشد، زیرا این مدارک مشکل دارند:", About+" could not be accepted because of these documents:")}
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
		l.Paragraphs = []string{greeting,
			pick(about+" هنوز نوبت ندارد. مهلت حضور شما "+deadline+" است.", About+" has no appointment yet. Your deadline to attend is "+deadline+"."),
			bookHint}
	case MailDeadlineExtended:
		l.Subject = pick("مهلت درخواست "+f.code(lang)+" تمدید شد", "Deadline of request "+f.code(lang)+" extended")
		l.Paragraphs = []string{greeting,
			pick("مهلت حضور برای "+about+" تا "+deadline+" تمدید شد.", "The deadline to attend for "+about+" has been extended to "+deadline+"."),
			bookHint}
	case MailArchived:
		l.Subject = pick("درخواست "+f.code(lang)+" بایگانی شد", "Request "+f.code(lang)+" archived")
		l.Paragraphs = []string{greeting,
			pick(about+" چون تا "+deadline+" حضور نیافتید، بایگانی شد و مدارک آن حذف شدند.",
				About+" was archived because you did not attend by "+deadline+". Its documents have been deleted."),
			pick("برای دریافت این خدمت، لطفاً درخواست تازه‌ای ثبت کنید.", "To receive this service, please submit a new request.")}
	case MailAppointmentBooked:
		at := f.dateTime(f.Appointment, lang)
		l.Subject = pick("نوبت شما: "+at, "Your appointment: "+at)
		l.Paragraphs = []string{greeting,
			pick("برای "+about+" نوبت "+at+" (به وقت محلی نمایندگی) ثبت شد.", "An appointment on "+at+" (the mission's local time) has been booked for "+about+"."),
			pick("با اصل مدرک شناسایی عکس‌دار ایرانی حاضر شوید.", "Please bring your original Iranian photo ID.")}
		if f.ChangeLink != "" {
			l.Paragraphs = append(l.Paragraphs, pick("برای جابه‌جایی یا لغو نوبت (تا ۲۴ ساعت پیش از آن): ", "To move or cancel it (up to 24 hours before): ")+f.ChangeLink)
		}
	case MailAppointmentReminder:
		at := f.dateTime(f.Appointment, lang)
		l.Subject = pick("یادآوری نوبت: "+at, "Appointment reminder: "+at)
		l.Paragraphs = []string{greeting,
			pick("نوبت "+about+" فردا، "+at+" (به وقت محلی نمایندگی) است.", "The appointment for "+about+" is tomorrow, "+at+" (the mission's local time)."),
			pick("با اصل مدرک شناسایی عکس‌دار ایرانی حاضر شوید.", "Please bring your original Iranian photo ID.")}
	case MailAppointmentCancelled:
		l.Subject = pick("نوبت درخواست "+f.code(lang)+" لغو شد", "Appointment for request "+f.code(lang)+" cancelled")
		l.Paragraphs = []string{greeting,
			pick("نوبت "+about+" لغو شد. تا "+deadline+" می‌توانید نوبت تازه‌ای بگیرید.", "The appointment for "+about+" has been cancelled. You can book a new one until "+deadline+"."),
			bookHint}
	case MailNoShow:
		l.Subject = pick("در نوبت درخواست "+f.code(lang)+" حاضر نشدید", "You missed the appointment for request "+f.code(lang))
		l.Paragraphs = []string{greeting,
			pick("در نوبت "+about+" حضور نیافتید. تا "+deadline+" می‌توانید نوبت تازه‌ای بگیرید.", "You did not attend the appointment for "+about+". You can book a new one until "+deadline+"."),
			bookHint}
	case MailDecision:
		l.Subject = pick("نتیجه درخواست "+f.code(lang), "Outcome of request "+f.code(lang))
		var outcome string
		switch f.Decision {
		case consular.StatusApproved:
			outcome = pick(about+" تأیید شد. نمایندگی برای گام بعد با شما تماس می‌گیرد.", About+" has been approved. The mission will contact you about the next step.")
		case consular.StatusCompleted:
			outcome = pick(about+" انجام شد.", About+" has been completed.")
		default:
			outcome = pick(about+" رد شد.", About+" has been rejected.")
		}
		l.Paragraphs = []string{greeting, outcome}
		if f.Reason != "" {
			l.Paragraphs = append(l.Paragraphs, pick("توضیح نمایندگی: ", "The mission's explanation: ")+f.Reason)
		}
	case MailWithdrawn:
		l.Subject = pick("درخواست "+f.code(lang)+" پس گرفته شد", "Request "+f.code(lang)+" withdrawn")
		l.Paragraphs = []string{greeting,
			pick(about+" به خواست شما پس گرفته شد و مدارک آن حذف شدند.", About+" has been withdrawn as you asked. Its documents have been deleted.")}
	}
	l.Paragraphs = append(l.Paragraphs, pick("این پیام خودکار است؛ به آن پاسخ ندهید.", "This message is automatic; please do not reply."))
	return l
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
{{range .Paragraphs}}<p>{{.}}</p>
{{end}}</div>
{{end}}</body></html>
`))

// htmlBody is the HTML part, Persian right to left, then English.
func htmlBody(fa, en letter) (string, error) {
	var b bytes.Buffer
	err := htmlLetter.Execute(&b, []letter{fa, en})
	return b.String(), err
}
