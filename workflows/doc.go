// Package workflows decides each consular request's fate: one workflow per
// request, whose ID is the tracking code (request.go, the story; updates.go,
// what staff and applicants may do on the way), and the retention purge.
// Pure orchestration: every side effect happens in package activities. The
// contract callers use (names, inputs, Start, Act, Status) is package
// workflows/request, so the API never links this package.
package workflows
