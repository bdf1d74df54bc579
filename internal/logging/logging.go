// Package logging builds the process logger (log/slog): readable text in
// development, JSON in production, and the attributes of the current HTTP
// request or workflow (request ID, tracking code) carried in the context.
package logging

import (
	"context"
	"io"
	"log/slog"
	"os"
)

// New returns a logger writing to w in the given format ("text" or "json")
// at the given level ("debug", "info", "warn", "error").
func New(w io.Writer, format, level string) *slog.Logger {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		lvl = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: lvl}
	var h slog.Handler
	if format == "json" {
		h = slog.NewJSONHandler(w, opts)
	} else {
		h = slog.NewTextHandler(w, opts)
	}
	return slog.New(contextHandler{h})
}

type attrsKey struct{}

// With returns a context whose log lines carry attrs as well as any it had.
// Never pass personal data (national ID, email, names) here.
func With(ctx context.Context, attrs ...slog.Attr) context.Context {
	prev, _ := ctx.Value(attrsKey{}).([]slog.Attr)
	all := make([]slog.Attr, 0, len(prev)+len(attrs))
	all = append(append(all, prev...), attrs...)
	return context.WithValue(ctx, attrsKey{}, all)
}

// contextHandler adds the attributes stored by With to every record logged
// with a context (slog.InfoContext and friends).
type contextHandler struct{ slog.Handler }

func (h contextHandler) Handle(ctx context.Context, r slog.Record) error {
	if attrs, ok := ctx.Value(attrsKey{}).([]slog.Attr); ok {
		r.AddAttrs(attrs...)
	}
	return h.Handler.Handle(ctx, r)
}

func (h contextHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return contextHandler{h.Handler.WithAttrs(attrs)}
}

func (h contextHandler) WithGroup(name string) slog.Handler {
	return contextHandler{h.Handler.WithGroup(name)}
}

// ForProgram is a program's logger on standard error, also made slog's
// default (libraries that log through slog write the same lines).
func ForProgram(format, level string) *slog.Logger {
	logger := New(os.Stderr, format, level)
	slog.SetDefault(logger)
	return logger
}
