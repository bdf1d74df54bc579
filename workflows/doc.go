// Package workflows decides each consular request's fate: one workflow per
// request, whose ID is the tracking code. Pure orchestration: every side
// effect happens in package activities.
package workflows
