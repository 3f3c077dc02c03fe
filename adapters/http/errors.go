package http

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	nethttp "net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"go.uber.org/zap"

	"github.com/gatehouse-auth/gatehouse/domain"
)

// ContentTypeProblem is the media type of every error response (RFC 9457).
const ContentTypeProblem = "application/problem+json"

// problemTypePrefix prefixes the code to form the problem "type" URI.
const problemTypePrefix = "urn:gatehouse:problem:"

// Problem is the body of an error response, RFC 9457 problem details with
// Gatehouse's extensions code, request_id and errors.
type Problem struct {
	Type      string         `json:"type"`
	Title     string         `json:"title"`
	Status    int            `json:"status"`
	Detail    string         `json:"detail"`
	Code      string         `json:"code"`
	RequestID string         `json:"request_id"`
	Errors    []ProblemField `json:"errors,omitempty"`

	// RetryAfter is the Retry-After header value in whole seconds, or 0 for
	// none. It is a header, not part of the body.
	RetryAfter int `json:"-"`
}

// ProblemField is one entry of Problem.Errors: a rule that a field broke.
type ProblemField struct {
	Field   string `json:"field"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// logLevel says how the error handler logs an error: not at all (an answer
// to the client), at warn (infrastructure) or at error (a bug).
type logLevel uint8

const (
	logNone logLevel = iota
	logWarn
	logError
)

// Generic details for answers that must not leak the underlying error.
const (
	detailInternal    = "An internal error occurred."
	detailUnavailable = "The service is temporarily unavailable."
)

// ProblemFor maps an error to its HTTP status and problem body, as the error
// handler does; RequestID is left empty. Hosted pages use it to render an
// error in HTML with the same status and code.
func ProblemFor(err error) (status int, body Problem) {
	status, body, _ = classify(err)
	return status, body
}

// classify implements ProblemFor and also says how to log the error.
func classify(err error) (int, Problem, logLevel) {
	var (
		de *domain.Error
		fe *fiber.Error
		pe *panicError
	)
	switch {
	case err == nil, errors.As(err, &pe): // a bug, or a recovered panic
		return internalError()
	case errors.As(err, &de):
		return classifyDomain(de)
	case errors.As(err, &fe):
		return classifyFiber(fe)
	case errors.Is(err, context.DeadlineExceeded):
		return fiber.StatusServiceUnavailable, problem(fiber.StatusServiceUnavailable, "unavailable", detailUnavailable), logWarn
	default:
		return internalError()
	}
}

// kindStatus is the status of each kind of domain error the client may
// see; KindInternal and anything unknown are a bug and leak nothing.
var kindStatus = map[domain.Kind]int{
	domain.KindBadRequest:   fiber.StatusBadRequest,
	domain.KindValidation:   fiber.StatusUnprocessableEntity,
	domain.KindUnauthorized: fiber.StatusUnauthorized,
	domain.KindForbidden:    fiber.StatusForbidden,
	domain.KindNotFound:     fiber.StatusNotFound,
	domain.KindConflict:     fiber.StatusConflict,
	domain.KindRateLimited:  fiber.StatusTooManyRequests,
	domain.KindUnavailable:  fiber.StatusServiceUnavailable,
}

func classifyDomain(de *domain.Error) (int, Problem, logLevel) {
	status, ok := kindStatus[de.Kind]
	if !ok {
		return internalError()
	}
	level := logNone
	if de.Kind == domain.KindUnavailable {
		level = logWarn
	}
	p := problem(status, de.Code, de.Message)
	if p.Code == "" {
		p.Code = codeForStatus(status)
		p.Type = problemTypePrefix + p.Code
	}
	if p.Detail == "" {
		p.Detail = nethttp.StatusText(status)
	}
	for _, f := range de.Fields {
		p.Errors = append(p.Errors, ProblemField(f))
	}
	p.RetryAfter = retryAfterSeconds(de.RetryAfter)
	return status, p, level
}

func classifyFiber(fe *fiber.Error) (int, Problem, logLevel) {
	status := fe.Code
	if status < 400 || status > 599 || nethttp.StatusText(status) == "" {
		return internalError()
	}
	level := logNone
	if status >= 500 {
		level = logError
	}
	// Fiber's messages may echo the request ("Cannot GET /path") or a
	// parser error; answer a fixed detail per status instead.
	return status, problem(status, codeForStatus(status), fiberDetail(status)), level
}

// statusProblems are the stable code and the human detail of the statuses
// that have no domain error; any other status takes its snake_cased text
// and that text as detail.
var statusProblems = map[int]struct{ code, detail string }{
	fiber.StatusBadRequest:                  {"invalid_request", domain.ErrInvalidRequest.Message},
	fiber.StatusNotFound:                    {"not_found", "No resource exists at this path."},
	fiber.StatusMethodNotAllowed:            {"method_not_allowed", "The method is not allowed on this path; see the Allow header."},
	fiber.StatusRequestEntityTooLarge:       {"payload_too_large", "The request body is too large."},
	fiber.StatusUnsupportedMediaType:        {"unsupported_media_type", "The request body has an unsupported media type."},
	fiber.StatusRequestHeaderFieldsTooLarge: {"headers_too_large", "The request headers are too large."},
	fiber.StatusRequestTimeout:              {"request_timeout", "The request took too long to arrive."},
	fiber.StatusMisdirectedRequest:          {"misdirected_request", "This listener does not answer for this host name."},
	fiber.StatusInternalServerError:         {"internal_error", detailInternal},
	fiber.StatusServiceUnavailable:          {"unavailable", detailUnavailable},
}

// codeForStatus is the stable code for a status that has no domain error.
func codeForStatus(status int) string {
	if sp, ok := statusProblems[status]; ok {
		return sp.code
	}
	return snakeCase(nethttp.StatusText(status))
}

// fiberDetail is the human detail for a framework-level error.
func fiberDetail(status int) string {
	if sp, ok := statusProblems[status]; ok {
		return sp.detail
	}
	return nethttp.StatusText(status) + "."
}

// internalError is the answer to a bug: 500 with nothing leaked.
func internalError() (int, Problem, logLevel) {
	return fiber.StatusInternalServerError, problem(fiber.StatusInternalServerError, "internal_error", detailInternal), logError
}

func problem(status int, code, detail string) Problem {
	return Problem{
		Type:   problemTypePrefix + code,
		Title:  nethttp.StatusText(status),
		Status: status,
		Detail: detail,
		Code:   code,
	}
}

// snakeCase turns a status text such as "I'm a teapot" into "im_a_teapot".
func snakeCase(s string) string {
	var b strings.Builder
	underscore := false
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			if underscore && b.Len() > 0 {
				b.WriteByte('_')
			}
			underscore = false
			b.WriteRune(r)
		case r == '\'':
			// "I'm" -> "im"
		default:
			underscore = true
		}
	}
	return b.String()
}

// retryAfterSeconds rounds d up to whole seconds, at least 1; 0 means none.
func retryAfterSeconds(d time.Duration) int {
	if d <= 0 {
		return 0
	}
	s := math.Ceil(d.Seconds())
	if s > math.MaxInt32 {
		return math.MaxInt32
	}
	return max(int(s), 1)
}

// handleError is the application's fiber.ErrorHandler: the one way out for
// errors. It is also called directly by fasthttp for errors raised while
// reading the request (413, 431, 408), in which case no middleware ran; it
// then applies the request id, security and CORS headers and writes the
// access log line itself.
func (s *server) handleError(c *fiber.Ctx, err error) error {
	edge := c.Locals(keyAccessLog) == nil
	if edge {
		s.prepareEdge(c)
	}

	status, p, level := classify(err)
	p.RequestID = RequestID(c)

	if level != logNone {
		fields := []zap.Field{
			zap.String("request_id", p.RequestID),
			zap.String("method", truncate(c.Method(), 16)),
			zap.String("route", routePattern(c)),
			zap.Error(err),
		}
		var pe *panicError
		switch {
		case level == logWarn:
			s.log.Warn("request failed: service unavailable", fields...)
		case errors.As(err, &pe):
			s.log.Error("panic while serving request", append(fields, zap.String("stack", string(pe.stack)))...)
		default:
			s.log.Error("request failed", fields...)
		}
	}

	body, merr := json.Marshal(p)
	if merr != nil { // cannot happen with these field types
		return fmt.Errorf("marshal problem: %w", merr)
	}

	res := c.Response()
	res.ResetBody()
	res.Header.Del(fiber.HeaderContentEncoding)
	c.Status(status)
	c.Set(fiber.HeaderContentType, ContentTypeProblem)
	c.Set(fiber.HeaderCacheControl, "no-store")
	if p.RetryAfter > 0 {
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(p.RetryAfter))
	}
	if status == fiber.StatusUnauthorized && p.Code == domain.ErrUnauthorized.Code {
		c.Set(fiber.HeaderWWWAuthenticate, "Bearer")
	}
	res.SetBodyRaw(body)

	if edge {
		s.logAccess(c, c.Context().Time())
	}
	return nil
}

// routePattern is the registered pattern that served the request, or ""
// when no route matched (404, 405, errors raised before routing).
func routePattern(c *fiber.Ctx) string {
	if c.Locals(keyUnmatched) != nil || c.Locals(keyAccessLog) == nil {
		return ""
	}
	return c.Route().Path
}

// panicError carries a recovered panic to the error handler, which logs it
// once with its stack.
type panicError struct {
	value any
	stack []byte
}

func (e *panicError) Error() string { return fmt.Sprintf("panic: %v", e.value) }

// Unwrap exposes a panic value that is itself an error.
func (e *panicError) Unwrap() error {
	if err, ok := e.value.(error); ok {
		return err
	}
	return nil
}

// kindOf is the kind of a domain error; any other error is internal.
func kindOf(err error) domain.Kind {
	var de *domain.Error
	if errors.As(err, &de) {
		return de.Kind
	}
	return domain.KindInternal
}
