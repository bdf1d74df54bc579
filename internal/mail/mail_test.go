package mail_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	simplemail "github.com/xhit/go-simple-mail/v2"

	"github.com/openconsular/consular/internal/mail"
	"github.com/openconsular/consular/internal/testenv"
)

func TestSendsThroughTheSMTPServer(t *testing.T) {
	ctx := context.Background()
	server := mail.New(testenv.Config(t).Mail)
	if err := server.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	to := fmt.Sprintf("smtp-%d@example.org", time.Now().UnixNano())
	client, err := server.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	msg := simplemail.NewMSG().SetFrom(server.From()).AddTo(to).SetSubject("سلام — hello").
		SetBody(simplemail.TextPlain, "متن فارسی")
	if err := msg.Send(client); err != nil {
		t.Fatal(err)
	}
	got := testenv.Mail(t).WaitFor(t, "to:"+to, 1, 10*time.Second)
	if got[0].Subject != "سلام — hello" || got[0].Text == "" {
		t.Fatalf("received %+v", got[0])
	}
}

func TestPingFailsWhenNothingListens(t *testing.T) {
	cfg := testenv.Config(t).Mail
	cfg.Port = 1 // nothing listens on port 1
	if err := mail.New(cfg).Ping(context.Background()); err == nil {
		t.Fatal("ping succeeded with no SMTP server")
	}
}
