package config

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"go.yaml.in/yaml/v3"
)

const redacted = "[redacted]"

// Secret is a credential read from an environment variable or a file. Every
// way of printing, logging or marshalling it yields "[redacted]"; only Value
// gives the credential.
//
// Reflection-based dumpers that read unexported fields (go-spew, for one)
// bypass this, so do not hand a Config to them.
type Secret struct {
	// The value sits behind a pointer because fmt, when it meets a verb a
	// type does not support (%s on a struct holding a *Jira, say), prints
	// nested values without calling their methods, and then a pointer is
	// printed as an address where a string field would be printed in full.
	v *secretValue
}

type secretValue struct {
	source string // where the value came from, e.g. "env JIRA_TOKEN"
	value  string
}

func newSecret(source, value string) Secret {
	return Secret{v: &secretValue{source: source, value: value}}
}

// NewSecret wraps value, for tests and for configs built in code.
func NewSecret(value string) Secret { return newSecret("literal", value) }

// Value returns the credential.
func (s Secret) Value() string {
	if s.v == nil {
		return ""
	}
	return s.v.value
}

// IsSet reports whether the secret holds a value.
func (s Secret) IsSet() bool { return s.Value() != "" }

// Source says where the value came from ("env NAME", "file PATH"), for error
// messages that must point at the credential without showing it.
func (s Secret) Source() string {
	if s.v == nil {
		return ""
	}
	return s.v.source
}

func (s Secret) String() string   { return redacted }
func (s Secret) GoString() string { return redacted }

// Format makes every fmt verb redact, including %d and %x, which would
// otherwise print the struct's fields.
func (s Secret) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, redacted) }

// MarshalJSON keeps the value out of JSON dumps of the config.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// MarshalText keeps the value out of text encodings, and out of JSON when a
// Secret is used as a map key.
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// MarshalYAML keeps the value out of YAML dumps of the config.
func (s Secret) MarshalYAML() (any, error) { return redacted, nil }

// LogValue keeps the value out of structured logs.
func (s Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// secret reads the pair base_env / base_file. given reports whether either
// key was set, so that callers can decide whether a missing one matters; a
// key that was given but cannot be resolved is already a problem.
func (b *block) secret(base string) (s Secret, given bool) {
	b.secrets[base] = true
	envKey, fileKey := base+"_env", base+"_file"
	envNode, envPath := b.get(envKey)
	fileNode, filePath := b.get(fileKey)
	switch {
	case envNode != nil && fileNode != nil:
		b.d.add(filePath, fileNode, "set only one of %s and %s", envKey, fileKey)
	case envNode != nil:
		if name, ok := b.d.text(envPath, envNode); ok {
			s = b.d.fromEnv(envPath, envNode, name)
		}
	case fileNode != nil:
		if path, ok := b.d.text(filePath, fileNode); ok {
			s = b.d.fromFile(filePath, fileNode, path)
		}
	default:
		return Secret{}, false
	}
	return s, true
}

// requiredSecret is secret for credentials that cannot be done without.
func (b *block) requiredSecret(base string) Secret {
	s, given := b.secret(base)
	if !given {
		b.d.add(join(b.path, base), b.node, "required: set %s_env or %s_file", base, base)
	}
	return s
}

func (d *decoder) fromEnv(path string, n *yaml.Node, name string) Secret {
	if strings.ContainsAny(name, "${}") {
		d.add(path, n, "give the variable's name, like JIRA_TOKEN: nothing is expanded")
		return Secret{}
	}
	var (
		v  string
		ok bool
	)
	if d.env.LookupEnv != nil {
		v, ok = d.env.LookupEnv(name)
	}
	switch {
	case !ok:
		d.add(path, n, "environment variable %s is not set", name)
	case v == "":
		d.add(path, n, "environment variable %s is empty", name)
	default:
		return newSecret("env "+name, v)
	}
	return Secret{}
}

func (d *decoder) fromFile(path string, n *yaml.Node, file string) Secret {
	read := d.env.ReadFile
	if read == nil {
		read = func(string) ([]byte, error) { return nil, errors.New("no file system to read from") }
	}
	data, err := read(file)
	if err != nil {
		// The error names the file, never its content.
		d.probs = append(d.probs, Problem{Path: path, Line: n.Line, Message: fmt.Sprintf("cannot read secret file: %v", err), err: err})
		return Secret{}
	}
	// Editors and `echo` end files with a newline that is not part of the
	// credential.
	v := strings.TrimRight(string(data), " \t\r\n")
	if v == "" {
		d.add(path, n, "secret file %s is empty", file)
		return Secret{}
	}
	return newSecret("file "+file, v)
}
