// Package openapicheck validates requests made to the Jira sandbox against
// Atlassian's OpenAPI specs (Jira Cloud v3, Jira Data Center 10.3) and ADF
// documents against Atlassian's ADF JSON schema. It is for tests only: it
// pulls kin-openapi, which must stay out of the alertbridge binary.
package openapicheck

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/alertbridge/alertbridge/internal/upstream"
	"github.com/alertbridge/alertbridge/jira"
)

// Spec file locations under the upstream directory.
var (
	CloudSpec = filepath.Join("jira-cloud-openapi", "swagger-v3.v3.json")
	DCSpec    = filepath.Join("jira-dc-openapi", "jira-software-dc-10.3-openapi.json")
	ADFSchema = filepath.Join("adf-schema", "full.json")
)

// Checker validates requests for one deployment.
type Checker struct {
	doc    *openapi3.T
	prefix string // what the spec's server adds in front of its paths
	cloud  bool
	adf    *jsonschema.Schema
	routes []route
}

type route struct {
	segs []string // template segments; "{x}" is a parameter
	path string
	item *openapi3.PathItem
}

// loaded specs are shared by every test in a process: parsing the Cloud
// spec takes a while.
var (
	mu    sync.Mutex
	cache = map[string]*Checker{}
)

// For returns the Checker for deployment d, loading the specs from the
// upstream directory. With CI=true missing data fails tb; elsewhere it skips.
func For(tb testing.TB, d jira.Deployment) *Checker {
	tb.Helper()
	dir := upstream.Dir(tb)
	c, err := Load(dir, d)
	if err != nil {
		tb.Fatalf("openapicheck: %v", err)
	}
	return c
}

// Validate returns a function for sandbox.Options.Validate for deployment d.
func Validate(tb testing.TB, d jira.Deployment) func(*http.Request, []byte) error {
	return For(tb, d).Check
}

// Load reads the spec for d and the ADF schema from dir.
func Load(dir string, d jira.Deployment) (*Checker, error) {
	mu.Lock()
	defer mu.Unlock()
	key := dir + "|" + string(d)
	if c, ok := cache[key]; ok {
		return c, nil
	}
	c := &Checker{cloud: d != jira.DeploymentDataCenter}
	specPath := filepath.Join(dir, CloudSpec)
	if !c.cloud {
		specPath = filepath.Join(dir, DCSpec)
		// The DC spec's server is http://{baseurl}/rest: its paths start
		// at /api/2.
		c.prefix = "/rest"
	}
	loader := openapi3.NewLoader()
	loader.IsExternalRefsAllowed = false
	// Do not doc.Validate: both specs break the OpenAPI rules in places
	// (see SOURCES.md), and the parts we use are sound.
	doc, err := loader.LoadFromFile(specPath)
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", specPath, err)
	}
	c.doc = doc
	if !c.cloud {
		relaxDC(doc)
	}
	for path, item := range doc.Paths.Map() {
		c.routes = append(c.routes, route{segs: strings.Split(strings.Trim(path, "/"), "/"), path: path, item: item})
	}
	if c.adf, err = compileADF(filepath.Join(dir, ADFSchema)); err != nil {
		return nil, err
	}
	cache[key] = c
	return c, nil
}

// relaxDC repairs the DC 10.3 spec's defects that reject valid requests. The
// generator rendered Java's JsonNode and Map<String, Object> badly: it types
// every value of IssueUpdateBean.fields as an object, while summaries are
// strings and labels arrays (COMPATIBILITY.md in the spec's source repo lists
// this among its known defects), and an entity property's value as a
// string, while Jira stores any JSON value there (its own example is a JSON
// object, serialised into the string by the generator). The string comes
// from the bean's getter; a comment create's setter reads each value as a
// JSON object, so there the spec's own shape is the one Jira refuses.
func relaxDC(doc *openapi3.T) {
	if s := doc.Components.Schemas["EntityPropertyBean"]; s != nil && s.Value != nil {
		if p := s.Value.Properties["value"]; p != nil {
			s.Value.Properties["value"] = openapi3.NewSchemaRef("", &openapi3.Schema{})
		}
	}
	if s := doc.Components.Schemas["IssueUpdateBean"]; s != nil && s.Value != nil {
		for _, name := range []string{"fields", "update"} {
			if p := s.Value.Properties[name]; p != nil && p.Value != nil {
				p.Value.AdditionalProperties = openapi3.AdditionalProperties{Schema: openapi3.NewSchemaRef("", &openapi3.Schema{})}
			}
		}
	}
}

func compileADF(path string) (*jsonschema.Schema, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the ADF schema: %w", err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("decoding the ADF schema: %w", err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft4)
	const url = "https://unpkg.com/@atlaskit/adf-schema/dist/json-schema/v1/full.json"
	if err := c.AddResource(url, doc); err != nil {
		return nil, fmt.Errorf("adding the ADF schema: %w", err)
	}
	s, err := c.Compile(url)
	if err != nil {
		return nil, fmt.Errorf("compiling the ADF schema: %w", err)
	}
	return s, nil
}

// find matches a request path to a spec path, literal segments beating
// parameters (so /issue/bulk is not /issue/{issueIdOrKey}).
func (c *Checker) find(path string) (*route, map[string]string) {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	var best *route
	var bestParams map[string]string
	bestScore := -1
	for i := range c.routes {
		r := &c.routes[i]
		if len(r.segs) != len(segs) {
			continue
		}
		params := map[string]string{}
		score := 0
		ok := true
		for j, s := range r.segs {
			if strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") {
				params[s[1:len(s)-1]] = segs[j]
				continue
			}
			if s != segs[j] {
				ok = false
				break
			}
			score++
		}
		if ok && score > bestScore {
			best, bestParams, bestScore = r, params, score
		}
	}
	return best, bestParams
}

// Check validates one request: its path and method exist in the spec, its
// parameters and JSON body match the operation, and every ADF document in it
// matches the ADF schema.
func (c *Checker) Check(r *http.Request, body []byte) error {
	path := strings.TrimPrefix(r.URL.Path, c.prefix)
	if c.prefix != "" && path == r.URL.Path {
		return fmt.Errorf("%s is outside the spec's server base %s", r.URL.Path, c.prefix)
	}
	rt, params := c.find(path)
	if rt == nil && c.cloud && strings.HasPrefix(path, "/rest/api/2/") {
		// The Cloud spec describes v3 only; v2 calls alertbridge makes
		// (serverInfo, to detect the deployment) have the same shape.
		rt, params = c.find("/rest/api/3/" + strings.TrimPrefix(path, "/rest/api/2/"))
	}
	if rt == nil {
		return fmt.Errorf("no path in the spec matches %s", r.URL.Path)
	}
	op := rt.item.GetOperation(r.Method)
	if op == nil {
		return fmt.Errorf("the spec has no %s %s", r.Method, rt.path)
	}
	req := r.Clone(context.Background())
	req.Body = http.NoBody
	if len(body) > 0 {
		req.Body = readCloser{bytes.NewReader(body)}
		req.ContentLength = int64(len(body))
	}
	in := &openapi3filter.RequestValidationInput{
		Request:    req,
		PathParams: params,
		Route:      &routers.Route{Spec: c.doc, Path: rt.path, PathItem: rt.item, Method: r.Method, Operation: op},
		Options: &openapi3filter.Options{
			AuthenticationFunc: openapi3filter.NoopAuthenticationFunc,
			MultiError:         true,
		},
	}
	if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
		return fmt.Errorf("%s %s (spec %s): %w", r.Method, r.URL.Path, rt.path, err)
	}
	if c.cloud && len(body) > 0 {
		if err := c.checkADF(body); err != nil {
			return fmt.Errorf("%s %s: %w", r.Method, r.URL.Path, err)
		}
	}
	return nil
}

// CheckAnswer validates an answer to r against the operation's response
// in the spec: its status is one the spec lists (or a default), and its
// JSON body matches the schema given for it.
func (c *Checker) CheckAnswer(r *http.Request, status int, header http.Header, body []byte) error {
	path := strings.TrimPrefix(r.URL.Path, c.prefix)
	rt, params := c.find(path)
	if rt == nil {
		return fmt.Errorf("no path in the spec matches %s", r.URL.Path)
	}
	op := rt.item.GetOperation(r.Method)
	if op == nil {
		return fmt.Errorf("the spec has no %s %s", r.Method, rt.path)
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request:    r,
			PathParams: params,
			Route:      &routers.Route{Spec: c.doc, Path: rt.path, PathItem: rt.item, Method: r.Method, Operation: op},
		},
		Status:  status,
		Header:  header,
		Body:    readCloser{bytes.NewReader(body)},
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		return fmt.Errorf("answer %d to %s %s (spec %s): %w", status, r.Method, r.URL.Path, rt.path, err)
	}
	return nil
}

type readCloser struct{ *bytes.Reader }

func (readCloser) Close() error { return nil }

// checkADF validates the rich-text documents in a Cloud request body:
// fields.description and custom fields holding documents, comment bodies,
// and the same inside bulk issueUpdates.
func (c *Checker) checkADF(body []byte) error {
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return nil // the spec check already reported a bad body
	}
	var errs []error
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch t := v.(type) {
		case map[string]any:
			if t["type"] == "doc" {
				if err := c.ValidateADF(t); err != nil {
					errs = append(errs, fmt.Errorf("%s: the ADF document breaks the schema: %w", path, err))
				}
				return
			}
			for k, e := range t {
				walk(path+"."+k, e)
			}
		case []any:
			for i, e := range t {
				walk(fmt.Sprintf("%s[%d]", path, i), e)
			}
		}
	}
	walk("$", v)
	return errors.Join(errs...)
}

// ValidateADF checks one ADF document (decoded JSON, or anything that
// marshals to it) against Atlassian's schema.
func (c *Checker) ValidateADF(doc any) error {
	data, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return err
	}
	return c.adf.Validate(inst)
}
