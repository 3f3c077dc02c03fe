package http

import (
	nethttp "net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"
	"gopkg.in/yaml.v3"
)

// The contracts, relative to this package's directory (the working
// directory of its tests): the public API and the admin listener's.
var (
	openAPIPath      = filepath.Join("..", "..", "api", "openapi.yaml")
	adminOpenAPIPath = filepath.Join("..", "..", "api", "admin.openapi.yaml")
)

// openAPIContracts pairs each document with the app it describes. Routes
// only capture the use cases in closures, so zero use cases are enough to
// register them (but for /metrics, registered when a handler is given).
func openAPIContracts() []struct {
	path string
	app  *fiber.App
} {
	return []struct {
		path string
		app  *fiber.App
	}{
		{openAPIPath, NewServer(Config{}, nil, UseCases{})},
		{adminOpenAPIPath, NewAdminServer(Config{Admin: testAdminConfig}, nil, AdminUseCases{Metrics: nethttp.NotFoundHandler()})},
	}
}

// openAPIMethods are the operation keys of an OpenAPI path item.
var openAPIMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// openAPIDoc is the part of the document the test reads.
type openAPIDoc struct {
	OpenAPI string                          `yaml:"openapi"`
	Paths   map[string]map[string]yaml.Node `yaml:"paths"`
}

type openAPIOperation struct {
	OperationID string               `yaml:"operationId"`
	Responses   map[string]yaml.Node `yaml:"responses"`
}

// statusKey matches a response key: a status code or a range such as 4XX.
var statusKey = regexp.MustCompile(`^[1-5]([0-9]{2}|XX)$`)

// fiberParam matches a Fiber path parameter (":id", optional ":id?").
var fiberParam = regexp.MustCompile(`:([A-Za-z0-9_]+)\??`)

// registeredRoutes returns the "METHOD /path" of every route http.Routes
// registers, with Fiber parameters in OpenAPI form. Middleware (Use) is
// left out, and so is the HEAD route Fiber adds beside every GET; a HEAD
// registered on its own would be kept.
func registeredRoutes(t *testing.T, app *fiber.App) map[string]bool {
	t.Helper()
	routes := app.GetRoutes(true)
	gets := make(map[string]bool)
	for _, r := range routes {
		if r.Method == fiber.MethodGet {
			gets[r.Path] = true
		}
	}
	out := make(map[string]bool)
	for _, r := range routes {
		if r.Method == fiber.MethodHead && gets[r.Path] {
			continue
		}
		if strings.ContainsAny(r.Path, "*+") {
			t.Errorf("route %s %s has a wildcard; the spec test cannot map it to an OpenAPI path", r.Method, r.Path)
			continue
		}
		out[r.Method+" "+fiberParam.ReplaceAllString(r.Path, "{$1}")] = true
	}
	return out
}

func loadOpenAPI(t *testing.T, path string) (openAPIDoc, []byte) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read the OpenAPI document: %v", err)
	}
	var doc openAPIDoc
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
	return doc, raw
}

// TestOpenAPIMatchesRoutes fails when a route registered on an app is
// missing from its document (api/openapi.yaml for the public app,
// api/admin.openapi.yaml for the admin app) or a document lists an
// operation its app does not register, and checks the basic shape of
// every operation.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	for _, c := range openAPIContracts() {
		t.Run(filepath.Base(c.path), func(t *testing.T) { checkOpenAPIRoutes(t, c.path, c.app) })
	}
}

func checkOpenAPIRoutes(t *testing.T, openAPIPath string, app *fiber.App) {
	registered := registeredRoutes(t, app)
	if len(registered) == 0 {
		t.Fatal("no routes registered")
	}

	doc, _ := loadOpenAPI(t, openAPIPath)
	if !regexp.MustCompile(`^3\.1\.\d+$`).MatchString(doc.OpenAPI) {
		t.Errorf("openapi = %q, want 3.1.x", doc.OpenAPI)
	}
	if len(doc.Paths) == 0 {
		t.Fatal("the document has no paths")
	}

	documented := make(map[string]bool)
	opIDs := make(map[string]string) // operationId -> "METHOD /path"
	for path, item := range doc.Paths {
		if !strings.HasPrefix(path, "/") {
			t.Errorf("path %q does not start with /", path)
		}
		for key, node := range item {
			if !slices.Contains(openAPIMethods, key) {
				continue // parameters, summary, description, servers, $ref
			}
			op := strings.ToUpper(key) + " " + path
			documented[op] = true

			var o openAPIOperation
			if err := node.Decode(&o); err != nil {
				t.Errorf("%s: decode operation: %v", op, err)
				continue
			}
			if o.OperationID == "" {
				t.Errorf("%s has no operationId", op)
			} else if prev, dup := opIDs[o.OperationID]; dup {
				t.Errorf("operationId %q is used by both %s and %s", o.OperationID, prev, op)
			} else {
				opIDs[o.OperationID] = op
			}
			if len(o.Responses) == 0 {
				t.Errorf("%s has no responses", op)
			}
			for status := range o.Responses {
				if status != "default" && !statusKey.MatchString(status) {
					t.Errorf("%s: response key %q is not a status code", op, status)
				}
			}
		}
	}

	for _, op := range sortedKeys(registered) {
		if !documented[op] {
			t.Errorf("route %s is registered but missing from %s", op, openAPIPath)
		}
	}
	for _, op := range sortedKeys(documented) {
		if !registered[op] {
			t.Errorf("%s lists %s, which is not a registered route", openAPIPath, op)
		}
	}
}

// TestOpenAPIRefsResolve checks that every local $ref in the documents
// points at something that exists, so a renamed component cannot leave a
// dangling reference behind.
func TestOpenAPIRefsResolve(t *testing.T) {
	for _, c := range openAPIContracts() {
		t.Run(filepath.Base(c.path), func(t *testing.T) { checkOpenAPIRefs(t, c.path) })
	}
}

func checkOpenAPIRefs(t *testing.T, path string) {
	_, raw := loadOpenAPI(t, path)
	var root yaml.Node
	if err := yaml.Unmarshal(raw, &root); err != nil {
		t.Fatal(err)
	}
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				if k.Value == "$ref" && v.Kind == yaml.ScalarNode {
					if !strings.HasPrefix(v.Value, "#/") {
						t.Errorf("line %d: $ref %q is not local", v.Line, v.Value)
					} else if lookupPointer(&root, v.Value) == nil {
						t.Errorf("line %d: $ref %q does not resolve", v.Line, v.Value)
					}
				}
			}
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(&root)
}

// lookupPointer resolves a local JSON pointer ("#/components/schemas/User")
// in a YAML document, or returns nil.
func lookupPointer(root *yaml.Node, ref string) *yaml.Node {
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	for _, tok := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		if n.Kind != yaml.MappingNode {
			return nil
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == tok {
				next = n.Content[i+1]
				break
			}
		}
		if next == nil {
			return nil
		}
		n = next
	}
	return n
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
