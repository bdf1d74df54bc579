package testenv

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"testing"
	"time"
)

// Mailpit reads the mail the system sent, through Mailpit's API.
type Mailpit struct {
	base string
}

// Address is a sender or recipient.
type Address struct {
	Name    string
	Address string
}

// Attachment is a file attached to a message.
type Attachment struct {
	PartID      string
	FileName    string
	ContentType string
	Size        int
}

// Message is one email as Mailpit shows it.
type Message struct {
	ID          string
	MessageID   string
	From        Address
	To          []Address
	Subject     string
	Text        string
	HTML        string
	Attachments []Attachment
}

// Mail returns the Mailpit of the test stack.
func Mail(t testing.TB) *Mailpit {
	t.Helper()
	StackDir(t)
	return &Mailpit{base: os.Getenv("CONSULAR_TEST_MAILPIT_URL")}
}

func (m *Mailpit) get(path string, into any) error {
	resp, err := http.Get(m.base + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	if b, ok := into.(*[]byte); ok {
		*b, err = io.ReadAll(resp.Body)
		return err
	}
	return json.NewDecoder(resp.Body).Decode(into)
}

// Summary is a message as a search lists it.
type Summary struct {
	ID          string
	MessageID   string
	Subject     string
	Attachments int
}

// Search lists the messages matching a Mailpit search (e.g. `to:"a@b.c"`), newest first.
func (m *Mailpit) Search(t testing.TB, query string) []Summary {
	t.Helper()
	var list struct{ Messages []Summary }
	if err := m.get("/api/v1/search?query="+url.QueryEscape(query), &list); err != nil {
		t.Fatalf("mailpit search %q: %v", query, err)
	}
	return list.Messages
}

// Message returns one message whole: bodies and attachments.
func (m *Mailpit) Message(t testing.TB, id string) Message {
	t.Helper()
	var msg Message
	if err := m.get("/api/v1/message/"+id, &msg); err != nil {
		t.Fatalf("mailpit message %s: %v", id, err)
	}
	return msg
}

// Attachment returns the content of one attachment.
func (m *Mailpit) Attachment(t testing.TB, messageID, partID string) []byte {
	t.Helper()
	var b []byte
	if err := m.get("/api/v1/message/"+messageID+"/part/"+partID, &b); err != nil {
		t.Fatalf("mailpit attachment: %v", err)
	}
	return b
}

// Headers returns a message's headers.
func (m *Mailpit) Headers(t testing.TB, id string) map[string][]string {
	t.Helper()
	var h map[string][]string
	if err := m.get("/api/v1/message/"+id+"/headers", &h); err != nil {
		t.Fatalf("mailpit headers %s: %v", id, err)
	}
	return h
}

// WaitFor waits until at least n messages match query, and returns them whole, oldest first.
func (m *Mailpit) WaitFor(t testing.TB, query string, n int, timeout time.Duration) []Message {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		found := m.Search(t, query)
		if len(found) >= n {
			whole := make([]Message, len(found))
			for i, msg := range found {
				whole[len(found)-1-i] = m.Message(t, msg.ID)
			}
			return whole
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %d message(s) matching %q, found %d", timeout, n, query, len(found))
		}
		time.Sleep(100 * time.Millisecond)
	}
}
