package http

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/go-playground/validator/v10"
	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse-auth/gatehouse/domain"
)

const (
	// maxJSONDepth bounds the nesting of request bodies; no request type
	// nests deeper than a few levels.
	maxJSONDepth = 32
	// MaxFormValue is the largest accepted value of a hosted-page form field,
	// in bytes.
	MaxFormValue = 1024
	// MaxCredentialValue is the largest accepted value of the field
	// "credential", an authenticator's answer in JSON (the passkey
	// sign-in's form), in bytes: its signature alone can be 512 bytes of
	// RSA before base64url, more than MaxFormValue leaves room for. The
	// body limit bounds it too.
	MaxCredentialValue = 6 << 10

	mediaJSON = "application/json"
	mediaForm = "application/x-www-form-urlencoded"
)

// validate checks the validator/v10 tags of request types. Field names in
// its errors are the json names.
var validate = newValidator()

func newValidator() *validator.Validate {
	v := validator.New(validator.WithRequiredStructEnabled())
	v.RegisterTagNameFunc(func(f reflect.StructField) string {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch name {
		case "-":
			return ""
		case "":
			return f.Name
		}
		return name
	})
	return v
}

// DecodeJSON decodes the body of a JSON endpoint into dst, a pointer to a
// request struct, then validates dst's `validate` tags.
//
// It answers 415 unsupported_media_type unless Content-Type is
// application/json (parameters allowed, charset only utf-8) and the body is
// not content-encoded. It answers 400 invalid_request for an empty body,
// invalid UTF-8, anything but a single JSON object, duplicate keys at any
// depth (compared as encoding/json matches them, ignoring case), unknown
// fields, a value of the wrong type, data after the object, and any string
// holding a control character (U+0000-U+001F, U+007F-U+009F). A struct that
// breaks its tags is a 422 validation_failed with one entry per field.
// Messages name the problem and the field, never the value.
func DecodeJSON(c *fiber.Ctx, dst any) error {
	if err := requireMediaType(c, mediaJSON); err != nil {
		return err
	}
	// The raw body: c.Body() would decompress a Content-Encoding, and bodies
	// are bounded before decompression only.
	body := c.Request().Body()
	if len(bytes.TrimSpace(body)) == 0 {
		return invalidRequest("The request body is empty; a JSON object is required.")
	}
	if !utf8.Valid(body) {
		return invalidRequest("The request body is not valid UTF-8.")
	}
	if err := checkJSON(body); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return decodeError(err)
	}
	return Validate(dst)
}

// Validate checks the validator/v10 tags of v, a struct or a pointer to
// one, and converts failures to a 422 domain.Validation error whose fields
// are named by their json names. DecodeJSON calls it; handlers that build a
// request type by other means can call it too.
func Validate(v any) error {
	rv := reflect.ValueOf(v)
	for rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return nil
		}
		rv = rv.Elem()
	}
	if rv.Kind() != reflect.Struct {
		return nil
	}
	err := validate.Struct(rv.Interface())
	if err == nil {
		return nil
	}
	var ves validator.ValidationErrors
	if !errors.As(err, &ves) {
		return fmt.Errorf("validate %T: %w", v, err) // a programming error: 500
	}
	fields := make([]domain.FieldError, 0, len(ves))
	for _, fe := range ves {
		fields = append(fields, fieldError(fe))
	}
	return domain.Validation(fields...)
}

// fieldError translates one validator failure into the API's field error.
func fieldError(fe validator.FieldError) domain.FieldError {
	field := fe.Namespace()
	if _, rest, ok := strings.Cut(field, "."); ok {
		field = rest // drop the struct's own name
	}
	// A bound is a length in characters or items, or a value for a number.
	sized, measure := "characters", "length"
	switch fe.Kind() {
	case reflect.Slice, reflect.Array, reflect.Map:
		sized = "items"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		measure = "value"
	}
	bound := fe.Param() + " " + sized
	if measure == "value" {
		bound = fe.Param()
	}
	f := domain.FieldError{Field: field}
	switch fe.Tag() {
	case "required", "required_if", "required_unless", "required_with", "required_without":
		f.Code, f.Message = "required", "This field is required."
	case "max", "lte":
		f.Code, f.Message = "max_"+measure, "Must be at most "+bound+"."
	case "min", "gte":
		f.Code, f.Message = "min_"+measure, "Must be at least "+bound+"."
	case "len":
		f.Code, f.Message = "invalid_length", "Must be exactly "+fe.Param()+" "+sized+"."
	case "email":
		f.Code, f.Message = "invalid_email", "Must be a valid email address."
	case "oneof":
		f.Code, f.Message = "invalid_choice", "Must be one of: "+fe.Param()+"."
	case "uuid", "uuid4", "uuid_rfc4122", "uuid4_rfc4122":
		f.Code, f.Message = "invalid_uuid", "Must be a UUID."
	case "url", "http_url":
		f.Code, f.Message = "invalid_url", "Must be a URL."
	default:
		f.Code, f.Message = "invalid", "This field is invalid."
	}
	return f
}

// DecodeForm reads the named fields of an application/x-www-form-urlencoded
// body (hosted-page forms). Other fields are ignored; a missing field is "".
// It answers 415 for another media type or a content-encoded body, and 400
// invalid_request for a malformed body, a field sent twice, a value over
// MaxFormValue bytes (MaxCredentialValue for "credential"), invalid UTF-8
// or a control character.
func DecodeForm(c *fiber.Ctx, keys ...string) (map[string]string, error) {
	if err := requireMediaType(c, mediaForm); err != nil {
		return nil, err
	}
	vals, err := url.ParseQuery(string(c.Request().Body()))
	if err != nil {
		return nil, invalidRequest("The form body is malformed.")
	}
	out := make(map[string]string, len(keys))
	for _, k := range keys {
		vs := append(vals[k], "") // a missing field reads as ""
		limit := MaxFormValue
		if k == "credential" {
			limit = MaxCredentialValue
		}
		var refused string
		switch v := vs[0]; {
		case len(vs) > 2:
			refused = "appears more than once"
		case len(v) > limit:
			refused = "is too long"
		case !utf8.ValidString(v):
			refused = "is not valid UTF-8"
		case hasControl(v):
			refused = "contains a control character"
		}
		if refused != "" {
			return nil, invalidRequest("The form field " + strconv.Quote(k) + " " + refused + ".")
		}
		out[k] = vs[0]
	}
	return out, nil
}

// requireMediaType answers 415 unless the body is of the media type want,
// with a utf-8 charset if any, and not content-encoded.
func requireMediaType(c *fiber.Ctx, want string) error {
	unsupported := func(msg string) error {
		return fiber.NewError(fiber.StatusUnsupportedMediaType, msg)
	}
	if enc := strings.TrimSpace(c.Get(fiber.HeaderContentEncoding)); enc != "" && !strings.EqualFold(enc, "identity") {
		return unsupported("content-encoded request bodies are not accepted")
	}
	mt, params, err := mime.ParseMediaType(c.Get(fiber.HeaderContentType))
	if err != nil || mt != want {
		return unsupported("the request body must be " + want)
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") && !strings.EqualFold(cs, "utf8") {
		return unsupported("the request body must be UTF-8")
	}
	return nil
}

// invalidRequest is domain.ErrInvalidRequest with a specific message; it
// matches the sentinel under errors.Is.
func invalidRequest(msg string) *domain.Error {
	e := domain.InvalidRequest()
	e.Message = msg
	return e
}

// jsonFrame is an open object or array during checkJSON's walk.
type jsonFrame struct {
	object    bool
	expectKey bool                // object: the next token is a key or '}'
	key       string              // object: the current key
	keys      map[string]struct{} // object: folded keys seen
}

// checkJSON walks the tokens of body and refuses anything but one JSON
// object with unique keys and control-free strings, followed by nothing.
func checkJSON(body []byte) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return invalidRequest("The request body is not valid JSON.")
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return invalidRequest("The request body must be a JSON object.")
	}
	stack := []jsonFrame{{object: true, expectKey: true, keys: map[string]struct{}{}}}
	// valueDone records that a value of the innermost open container ended.
	valueDone := func() {
		if top := &stack[len(stack)-1]; top.object {
			top.expectKey = true
		}
	}
	// pop closes the innermost container, itself a value of the next one.
	pop := func() {
		if stack = stack[:len(stack)-1]; len(stack) > 0 {
			valueDone()
		}
	}
	for len(stack) > 0 {
		tok, err := dec.Token()
		if err != nil {
			return invalidRequest("The request body is not valid JSON.")
		}
		top := &stack[len(stack)-1]
		if top.object && top.expectKey {
			if d, ok := tok.(json.Delim); ok && d == '}' {
				pop()
				continue
			}
			key, ok := tok.(string)
			if !ok { // the decoder guarantees a key here; be safe anyway
				return invalidRequest("The request body is not valid JSON.")
			}
			if hasControl(key) {
				return invalidRequest("A key in the request body contains a control character.")
			}
			folded := foldKey(key)
			if _, dup := top.keys[folded]; dup {
				return invalidRequest("The request body has the key " + fieldRef(key) + " more than once.")
			}
			top.keys[folded] = struct{}{}
			top.key, top.expectKey = key, false
			continue
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{':
				stack = append(stack, jsonFrame{object: true, expectKey: true, keys: map[string]struct{}{}})
			case '[':
				stack = append(stack, jsonFrame{})
			default: // ']'; '}' is handled in key position
				pop()
			}
			if len(stack) > maxJSONDepth {
				return invalidRequest("The request body is nested too deeply.")
			}
		case string:
			if hasControl(t) {
				return invalidRequest("The value of " + fieldRef(innermostKey(stack)) + " contains a control character.")
			}
			valueDone()
		default:
			valueDone()
		}
	}
	if _, err := dec.Token(); err != io.EOF {
		return invalidRequest("The request body has data after the JSON object.")
	}
	return nil
}

// innermostKey is the key of the innermost object enclosing the value.
func innermostKey(stack []jsonFrame) string {
	for i := len(stack) - 1; i >= 0; i-- {
		if stack[i].object {
			return stack[i].key
		}
	}
	return ""
}

// decodeError translates an encoding/json decoding error.
func decodeError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return invalidRequest("The field " + fieldRef(te.Field) + " must be " + jsonKind(te.Type) + ".")
	}
	var ie *json.InvalidUnmarshalError
	if errors.As(err, &ie) {
		return fmt.Errorf("decode request: %w", err) // a programming error: 500
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		if n, uerr := strconv.Unquote(name); uerr == nil {
			return invalidRequest("The request body has an unknown field " + fieldRef(n) + ".")
		}
		return invalidRequest("The request body has an unknown field.")
	}
	return invalidRequest("The request body is not valid JSON.")
}

// jsonKind names the JSON type that a Go type is decoded from.
func jsonKind(t reflect.Type) string {
	if t == nil {
		return "of another type"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer in range"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	}
	return "of another type"
}

// fieldRef quotes a field name for a message when it looks like one, so a
// message never carries arbitrary client text.
func fieldRef(name string) string {
	if name == "" || len(name) > 64 {
		return "(unnamed)"
	}
	for i := 0; i < len(name); i++ {
		b := name[i]
		if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '_' || b == '-' || b == '.') {
			return "(unnamed)"
		}
	}
	return strconv.Quote(name)
}

// hasControl reports whether s holds a C0 or C1 control character, DEL,
// or U+FFFD: encoding/json decodes an escaped lone surrogate ("\ud800")
// to U+FFFD, so different inputs would become one stored value, and no
// email, password or token legitimately holds a replacement character.
func hasControl(s string) bool {
	for _, r := range s {
		if r < 0x20 || (r >= 0x7f && r <= 0x9f) || r == utf8.RuneError {
			return true
		}
	}
	return false
}

// foldKey maps a key to a canonical case-fold, so that two keys fold to the
// same string exactly when strings.EqualFold holds, which is how
// encoding/json matches keys to fields ("email" and "EMAIL" would both
// fill the same field).
func foldKey(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		m := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			m = min(m, f)
		}
		b.WriteRune(m)
	}
	return b.String()
}
