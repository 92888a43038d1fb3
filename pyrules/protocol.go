package pyrules

import "encoding/json"

// Spec is what every worker loads: global helpers, data models and rules.
// Indexes into Rules are how results name a rule.
type Spec struct {
	Helpers []Helper `json:"helpers"`
	Models  []Model  `json:"models"`
	Rules   []Rule   `json:"rules"`
}

// Helper is a global helper module, importable by Name (Panther's GlobalID).
type Helper struct {
	Name string `json:"name"`
	Path string `json:"path"`
}

// Model is a data model: the fields event.udm() maps for its log types.
type Model struct {
	ID       string    `json:"id"`
	LogTypes []string  `json:"log_types"`
	Path     string    `json:"path,omitempty"` // the module holding Method mappings
	Mappings []Mapping `json:"mappings"`
}

// Mapping maps one unified field to a JSONPath or to a function of the
// data model's module.
type Mapping struct {
	Name   string `json:"name"`
	Path   string `json:"path,omitempty"`
	Method string `json:"method,omitempty"`
}

// Rule is a rule's Python file and the log types it reads.
type Rule struct {
	ID       string   `json:"id"`
	Path     string   `json:"path"`
	LogTypes []string `json:"log_types"`
	Filters  any      `json:"filters,omitempty"` // Panther's InlineFilters, as written
}

// LoadReport says what loaded: one entry per item of the Spec, in order.
type LoadReport struct {
	Helpers []Loaded `json:"helpers"`
	Models  []Loaded `json:"models"`
	Rules   []Loaded `json:"rules"`
}

// Loaded is one item's load outcome. Funcs lists the Panther functions a
// rule defines.
type Loaded struct {
	Error string   `json:"error,omitempty"`
	Funcs []string `json:"funcs,omitempty"`
}

// Event is one event to evaluate: its log type (which picks the rules and
// the data model) and its JSON object.
type Event struct {
	LogType string          `json:"lt"`
	Data    json.RawMessage `json:"d"`
}

// Outcome is one rule's result on one event, sent only when the rule matched
// or a function failed. Values hold what the optional functions returned
// (absent when undefined, None or failed).
type Outcome struct {
	Rule    int         `json:"k"`
	Matched bool        `json:"m"`
	Values  Values      `json:"v"`
	Errors  []FuncError `json:"e"`
	Printed string      `json:"print,omitempty"`
}

// Values are the optional functions' results, already type-checked by the
// worker.
type Values struct {
	Title        *string  `json:"title"`
	Dedup        *string  `json:"dedup"`
	Severity     *string  `json:"severity"`
	Destinations []string `json:"destinations"`
	AlertContext *string  `json:"alert_context"` // JSON text
	Runbook      *string  `json:"runbook"`
	Reference    *string  `json:"reference"`
	Description  *string  `json:"description"`
}

// FuncError is a rule function that failed: raised, ran out of time or
// memory, returned the wrong type, or took its worker down.
type FuncError struct {
	Function  string `json:"f"`
	Message   string `json:"m"`
	Traceback string `json:"t,omitempty"`
}

// Mock replaces a name in the rule's module for one test, as Panther's
// test Mocks do.
type Mock struct {
	ObjectName  string `json:"objectName"`
	ReturnValue any    `json:"returnValue"`
}

// requests and answers on the wire.
type loadRequest struct {
	Op string `json:"op"`
	*Spec
}

type evalRequest struct {
	Op      string  `json:"op"`
	Events  []Event `json:"events"`
	Careful bool    `json:"careful,omitempty"`
	Skip    []int   `json:"skip,omitempty"`
}

type testRequest struct {
	Op      string         `json:"op"`
	Rule    int            `json:"rule"`
	LogType string         `json:"lt"`
	Log     map[string]any `json:"log"`
	Mocks   []Mock         `json:"mocks,omitempty"`
}

// answer is any line a worker sends; which fields are set says what it is.
type answer struct {
	Op       string            `json:"op"`
	Progress []json.RawMessage `json:"p"`
	Index    *int              `json:"i"`
	Results  []Outcome         `json:"r"`
	LoadReport
	Outcome
	Env map[string]string `json:"env"`
}
