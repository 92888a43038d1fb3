// Package ruleengine is alertbridge's detection engine: rules written in Starlark
// (a Python dialect) with Panther-style YAML metadata, evaluated over decoded
// log events, plus the deduplication and threshold logic that turns matches
// into alerts.
//
// The package is pure. It reads rule files when asked to load them and
// otherwise touches no disk, database or network, and its decisions use only
// the times it is given. Storing dedup groups and alerts is the caller's job;
// the state it needs to keep is the plain, JSON-serialisable [Group].
package ruleengine
