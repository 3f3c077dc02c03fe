package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"path/filepath"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
)

// Every response the end-to-end client receives (client.do) is checked
// against the contract, api/openapi.yaml: status, the headers the matched
// response documents, and the body against its schema.

// The contracts, relative to this package's directory (the working
// directory of its tests): the public API, and the admin listener's.
var (
	publicContract = &contractDoc{path: filepath.Join("..", "..", "api", "openapi.yaml")}
	adminContract  = &contractDoc{path: filepath.Join("..", "..", "api", "admin.openapi.yaml")}
)

// contractDoc is a loaded document and its router, built once per test
// binary.
type contractDoc struct {
	path    string
	once    sync.Once
	doc     *openapi3.T
	router  routers.Router
	problem *openapi3.Schema
	err     error
}

func (c *contractDoc) load() error {
	c.once.Do(func() {
		doc, err := openapi3.NewLoader().LoadFromFile(c.path)
		if err != nil {
			c.err = fmt.Errorf("load %s: %w", c.path, err)
			return
		}
		if err := doc.Validate(context.Background()); err != nil {
			c.err = fmt.Errorf("validate %s: %w", c.path, err)
			return
		}
		// The document's one server is the development URL
		// (http://localhost:8080); test instances listen on 127.0.0.1 at a
		// random port. Without servers the router matches the path alone.
		doc.Servers = nil
		router, err := legacy.NewRouter(doc)
		if err != nil {
			c.err = fmt.Errorf("router for %s: %w", c.path, err)
			return
		}
		p := doc.Components.Schemas["Problem"]
		if p == nil || p.Value == nil {
			c.err = fmt.Errorf("%s has no components.schemas.Problem", c.path)
			return
		}
		c.doc, c.router, c.problem = doc, router, p.Value
	})
	return c.err
}

// contractMethods are the methods an OpenAPI path item can hold, tried in
// turn to find every operation of a path a request's method is not one of.
var contractMethods = []string{
	http.MethodGet, http.MethodPut, http.MethodPost, http.MethodDelete,
	http.MethodOptions, http.MethodHead, http.MethodPatch, http.MethodTrace,
}

// checkContract reports (c.t.Errorf) where the response r to method u
// breaks the client's contract (the public one, or the admin one for a
// client of the admin listener).
//
// What is checked against what:
//   - A request the document routes (method and path of an operation): r
//     against that operation's response for r.Status; an undocumented
//     status fails (IncludeResponseStatus).
//   - HEAD, which the document does not list ("answered wherever GET is"):
//     routed as GET and checked against the GET operation, headers and
//     status only, since a HEAD answer has no body. (ValidateResponse skips
//     HEAD requests altogether, so the check is run on the GET.)
//   - A documented path with a method it does not list: the document
//     gives every operation a 405 `MethodNotAllowed` ("answered to any
//     other method on this path"), so a 405 is checked against each
//     operation of the path.
//   - Requests the document cannot route are skipped, past a check that
//     an error body is a valid Problem (the conventions hold "on any
//     path"): an unknown path (the 404 `not_found` the document lists is
//     only the one of logout and session revocation), and on a documented
//     path, an answer other than 405 to an unlisted method (a CORS
//     preflight's 204, a 405 for a method the server does not know, a 413
//     or 431 raised while reading the request).
//   - HTML (the hosted pages): the Content-Type must be one the matched
//     response lists; the body is not schema-validated (its schema is
//     `type: string`, and kin-openapi has no text/html decoder).
func (c *client) checkContract(method string, u *url.URL, r response) {
	c.t.Helper()
	contract := c.contract
	if contract == nil {
		contract = publicContract
	}
	if err := contract.load(); err != nil {
		c.t.Fatal(err)
	}
	fail := func(err error) {
		c.t.Helper()
		body := r.Body
		if len(body) > 4096 {
			body = append(body[:4096:4096], "…(truncated)"...)
		}
		c.t.Errorf("%s %s: %d does not match %s: %v\nbody: %s", method, u.RequestURI(), r.Status, contract.path, err, body)
	}

	routeMethod := method
	if method == http.MethodHead {
		routeMethod = http.MethodGet
	}
	var routes []*routers.Route
	route, _, err := contract.router.FindRoute(routeRequest(routeMethod, u))
	switch {
	case err == nil:
		routes = []*routers.Route{route}
	case err.Error() == routers.ErrMethodNotAllowed.Error() && r.Status == http.StatusMethodNotAllowed:
		for _, m := range contractMethods {
			if route, _, err := contract.router.FindRoute(routeRequest(m, u)); err == nil {
				routes = append(routes, route)
			}
		}
	default:
		// Not routable (see above): only the error body's shape is checked.
		if err := checkProblem(contract.problem, r); err != nil {
			fail(err)
		}
		return
	}

	for _, route := range routes {
		if err := validateAgainst(route, method, u, r); err != nil {
			fail(fmt.Errorf("operation %s: %w", route.Operation.OperationID, err))
		}
	}
}

// routeRequest is a bodiless request for routing and for the
// RequestValidationInput ValidateResponse reads the method of.
func routeRequest(method string, u *url.URL) *http.Request {
	return &http.Request{Method: method, URL: u, Header: http.Header{}, Host: u.Host}
}

// validateAgainst checks r against the response route's operation documents
// for r.Status.
func validateAgainst(route *routers.Route, method string, u *url.URL, r response) error {
	opts := &openapi3filter.Options{IncludeResponseStatus: true}
	if method == http.MethodHead {
		opts.ExcludeResponseBody = true
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "text/html" {
		// Content type only: the matched response must list text/html.
		opts.ExcludeResponseBody = true
		if ref := route.Operation.Responses.Status(r.Status); ref != nil && ref.Value != nil && ref.Value.Content.Get(mt) == nil {
			return fmt.Errorf("Content-Type %q is not one of the documented response's", r.Header.Get("Content-Type"))
		}
	}
	// The request itself is not validated (hostile tests send invalid ones
	// on purpose); the input only names the route.
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request: routeRequest(route.Method, u),
			Route:   route,
			Options: opts,
		},
		Status:  r.Status,
		Header:  r.Header,
		Body:    io.NopCloser(bytes.NewReader(r.Body)),
		Options: opts,
	}
	return openapi3filter.ValidateResponse(context.Background(), in)
}

// checkProblem checks that an error answer in problem+json is a valid
// Problem; anything else passes.
func checkProblem(problem *openapi3.Schema, r response) error {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); r.Status < 400 || mt != "application/problem+json" {
		return nil
	}
	v, err := openapi3filter.JSONBodyDecoder(bytes.NewReader(r.Body), r.Header, nil, nil)
	if err != nil {
		return fmt.Errorf("problem body is not JSON: %w", err)
	}
	if err := problem.VisitJSON(v, openapi3.EnableJSONSchema2020(), openapi3.VisitAsResponse()); err != nil {
		return fmt.Errorf("problem body does not match components.schemas.Problem: %w", err)
	}
	return nil
}
