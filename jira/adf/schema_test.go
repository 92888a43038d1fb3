package adf

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/alertbridge/alertbridge/internal/upstream"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// adfSchema is Atlassian's ADF JSON schema, compiled once per test binary:
// it is 70 KB of definitions and every test and fuzz input validates against
// it.
var adfSchema struct {
	once sync.Once
	sch  *jsonschema.Schema
	err  error
}

// schema returns the compiled schema, skipping the test when the upstream
// reference data is absent (failing instead when CI=true).
func schema(tb testing.TB) *jsonschema.Schema {
	tb.Helper()
	path := upstream.Path(tb, "adf-schema", "full.json")
	adfSchema.once.Do(func() {
		adfSchema.sch, adfSchema.err = compileSchema(path)
	})
	if adfSchema.err != nil {
		tb.Fatalf("compile ADF schema: %v", adfSchema.err)
	}
	return adfSchema.sch
}

func compileSchema(path string) (*jsonschema.Schema, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	// The file declares draft-04; say so again in case a future copy drops
	// the $schema keyword, since draft-04 is what its "definitions" and
	// "$ref" siblings mean.
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft4)
	const url = "https://unpkg.com/@atlaskit/adf-schema/dist/json-schema/v1/full.json"
	if err := c.AddResource(url, doc); err != nil {
		return nil, err
	}
	return c.Compile(url)
}

// schemaError returns why doc breaks the schema, or nil.
func schemaError(tb testing.TB, doc any) error {
	tb.Helper()
	data, err := json.Marshal(doc)
	if err != nil {
		tb.Fatalf("marshal: %v", err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		tb.Fatalf("unmarshal: %v", err)
	}
	return schema(tb).Validate(inst)
}

// requireValid fails the test when doc does not satisfy the ADF schema.
func requireValid(tb testing.TB, doc *Node) {
	tb.Helper()
	if err := schemaError(tb, doc); err != nil {
		data, _ := json.Marshal(doc)
		tb.Fatalf("document breaks the ADF schema: %v\n%s", err, data)
	}
}

// TestSchemaRejectsInvalid guards the guard: a schema that compiled into
// something permissive would let every other validation pass silently.
func TestSchemaRejectsInvalid(t *testing.T) {
	valid := `{"type":"doc","version":1,"content":[{"type":"paragraph","content":[{"type":"text","text":"ok"}]}]}`
	var v any
	if err := json.Unmarshal([]byte(valid), &v); err != nil {
		t.Fatal(err)
	}
	if err := schemaError(t, v); err != nil {
		t.Fatalf("valid document rejected: %v", err)
	}
	invalid := map[string]string{
		"empty text":             `{"type":"doc","version":1,"content":[{"type":"paragraph","content":[{"type":"text","text":""}]}]}`,
		"code with strong":       `{"type":"doc","version":1,"content":[{"type":"paragraph","content":[{"type":"text","text":"x","marks":[{"type":"code"},{"type":"strong"}]}]}]}`,
		"no version":             `{"type":"doc","content":[]}`,
		"version 2":              `{"type":"doc","version":2,"content":[]}`,
		"no content":             `{"type":"doc","version":1}`,
		"marked code block text": `{"type":"doc","version":1,"content":[{"type":"codeBlock","content":[{"type":"text","text":"x","marks":[{"type":"em"}]}]}]}`,
		"empty list item":        `{"type":"doc","version":1,"content":[{"type":"bulletList","content":[{"type":"listItem","content":[]}]}]}`,
		"heading in quote":       `{"type":"doc","version":1,"content":[{"type":"blockquote","content":[{"type":"heading","attrs":{"level":1},"content":[{"type":"text","text":"x"}]}]}]}`,
		"hard break at top":      `{"type":"doc","version":1,"content":[{"type":"hardBreak"}]}`,
		"heading level 7":        `{"type":"doc","version":1,"content":[{"type":"heading","attrs":{"level":7}}]}`,
		"link without href":      `{"type":"doc","version":1,"content":[{"type":"paragraph","content":[{"type":"text","text":"x","marks":[{"type":"link","attrs":{}}]}]}]}`,
		"unknown node":           `{"type":"doc","version":1,"content":[{"type":"marquee"}]}`,
	}
	for name, doc := range invalid {
		var v any
		if err := json.Unmarshal([]byte(doc), &v); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := schemaError(t, v); err == nil {
			t.Errorf("%s: schema accepted %s", name, doc)
		} else if !strings.Contains(err.Error(), "jsonschema") {
			t.Errorf("%s: unexpected error %v", name, err)
		}
	}
}
