package smtptest

import (
	"bytes"
	"encoding/base64"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/url"
	"regexp"
	"strings"
)

// parse fills the header, subject and body fields of a Message from raw
// data. A message it cannot parse keeps only Data.
func parse(data []byte) Message {
	m := Message{Data: data}
	msg, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		return m
	}
	m.Header = map[string][]string(msg.Header)
	dec := new(mime.WordDecoder)
	if subj, err := dec.DecodeHeader(msg.Header.Get("Subject")); err == nil {
		m.Subject = subj
	} else {
		m.Subject = msg.Header.Get("Subject")
	}
	walk(&m, msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body, 0)
	return m
}

// walk collects the first text/plain and text/html parts, descending into
// nested multiparts.
func walk(m *Message, contentType, encoding string, body io.Reader, depth int) {
	if depth > 10 {
		return
	}
	mediaType, params, err := mime.ParseMediaType(contentType)
	if err != nil || contentType == "" {
		mediaType = "text/plain"
	}
	if strings.HasPrefix(mediaType, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if err != nil {
				return
			}
			walk(m, p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p, depth+1)
		}
	}
	b, err := io.ReadAll(decode(encoding, body))
	if err != nil {
		return
	}
	text := strings.ReplaceAll(string(b), "\r\n", "\n")
	switch mediaType {
	case "text/plain":
		if m.Text == "" {
			m.Text = text
		}
	case "text/html":
		if m.HTML == "" {
			m.HTML = text
		}
	}
}

func decode(encoding string, r io.Reader) io.Reader {
	switch strings.ToLower(strings.TrimSpace(encoding)) {
	case "quoted-printable":
		return quotedprintable.NewReader(r)
	case "base64":
		return base64.NewDecoder(base64.StdEncoding, &stripSpace{r: r})
	default:
		return r
	}
}

// stripSpace drops CR, LF, spaces and tabs, which base64 bodies are wrapped
// with.
type stripSpace struct{ r io.Reader }

func (s *stripSpace) Read(p []byte) (int, error) {
	for {
		n, err := s.r.Read(p)
		j := 0
		for _, c := range p[:n] {
			if c != '\r' && c != '\n' && c != ' ' && c != '\t' {
				p[j] = c
				j++
			}
		}
		if j > 0 || err != nil {
			return j, err
		}
	}
}

var linkRE = regexp.MustCompile(`https?://[^\s"'<>]+`)

// ExtractURL returns the first http(s) URL in text whose path ends with
// path (for example "/verify-email").
func ExtractURL(text, path string) (link string, ok bool) {
	for _, raw := range linkRE.FindAllString(text, -1) {
		u, err := url.Parse(raw)
		if err != nil {
			continue
		}
		if strings.HasSuffix(u.Path, path) {
			return raw, true
		}
	}
	return "", false
}

// ExtractLink finds the first http(s) URL in text whose path ends with path
// and has a non-empty token query parameter, and returns that token, e.g.
// ExtractLink(msg.Text, "/reset-password").
func ExtractLink(text, path string) (token string, ok bool) {
	for _, raw := range linkRE.FindAllString(text, -1) {
		u, err := url.Parse(raw)
		if err != nil || !strings.HasSuffix(u.Path, path) {
			continue
		}
		if t := u.Query().Get("token"); t != "" {
			return t, true
		}
	}
	return "", false
}
