// Package ruleengine is alertbridge's detection engine: Panther's analysis
// files (Python rules with YAML metadata, global helpers, data models) loaded
// into a pyrules worker pool, evaluated over decoded log events, their unit
// tests run, plus the deduplication and threshold logic that turns matches
// into alerts.
//
// Apart from the worker processes it starts, the package touches no disk,
// database or network after loading, and its decisions use only the times it
// is given. Storing dedup groups and alerts is the caller's job; the state it
// needs to keep is the plain, JSON-serialisable [Group].
package ruleengine
