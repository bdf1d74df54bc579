package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// mailpit reads what the SMTP server received, through Mailpit's REST API.
type mailpit struct {
	base string
	http *http.Client
}

func newMailpit(base string) *mailpit {
	return &mailpit{base: base, http: &http.Client{Timeout: 30 * time.Second}}
}

// mailSummary is a message as Mailpit lists it.
type mailSummary struct {
	ID        string // Mailpit's own
	MessageID string // the Message-ID header
	To        []struct{ Address string }
	Subject   string
}

type mailList struct {
	Total         int           `json:"total"`
	MessagesCount int           `json:"messages_count"` // matching the search
	Messages      []mailSummary `json:"messages"`
}

func (m *mailpit) get(ctx context.Context, path string, into any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.base+path, nil)
	if err != nil {
		return err
	}
	resp, err := m.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("mailpit GET %s: %s", path, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(into)
}

// all lists every message Mailpit holds.
func (m *mailpit) all(ctx context.Context) ([]mailSummary, error) {
	var out []mailSummary
	for {
		var page mailList
		if err := m.get(ctx, fmt.Sprintf("/api/v1/messages?start=%d&limit=500", len(out)), &page); err != nil {
			return nil, err
		}
		out = append(out, page.Messages...)
		if len(page.Messages) == 0 || len(out) >= page.Total {
			return out, nil
		}
	}
}

// search lists the messages matching a Mailpit search, and how many match.
func (m *mailpit) search(ctx context.Context, query string) (int, []mailSummary, error) {
	var page mailList
	if err := m.get(ctx, "/api/v1/search?limit=50&query="+url.QueryEscape(query), &page); err != nil {
		return 0, nil, err
	}
	return page.MessagesCount, page.Messages, nil
}
