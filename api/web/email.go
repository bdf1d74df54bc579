package web

import (
	"context"

	simplemail "github.com/xhit/go-simple-mail/v2"

	"github.com/openconsular/consular/internal/mail"
)

// Email sends a short message from the catalogue in both languages, lang's
// first: the subject and body keys are rendered with args in each.
func Email(ctx context.Context, smtp *mail.Server, messages Catalogue, to, lang, subject, body string, args ...any) error {
	other := "en"
	if lang == "en" {
		other = "fa"
	}
	t := messages.T
	msg := simplemail.NewMSG().SetFrom(smtp.From()).AddTo(to).
		SetSubject(t(lang, subject, args...)+" | "+t(other, subject, args...)).
		SetBody(simplemail.TextPlain, t(lang, body, args...)+"\n\n----\n\n"+t(other, body, args...))
	msg.AddHeader("Auto-Submitted", "auto-generated")
	client, err := smtp.Connect(ctx)
	if err != nil {
		return err
	}
	defer client.Close()
	return msg.Send(client)
}
