// Package body decodes untrusted request bodies (JSON or YAML) into Go values
// with limits that keep a hostile client from exhausting memory or CPU: a size
// cap, a nesting cap, UTF-8 validation and, for YAML, a bound on how much
// anchors and aliases may expand. Decoded values always go through
// encoding/json, so targets only need json struct tags.
package body

import (
	"bytes"
	"errors"
	"fmt"
	"mime"
	"strings"
	"unicode/utf8"
)

// Format is the syntax of a body.
type Format int

// The formats a body may use.
const (
	JSON Format = iota
	YAML
)

// String names the format as its canonical media type.
func (f Format) String() string {
	switch f {
	case JSON:
		return "application/json"
	case YAML:
		return "application/x-yaml"
	default:
		return fmt.Sprintf("Format(%d)", int(f))
	}
}

// Limits applied by Decode. They are far above anything a legitimate event or
// search body needs and far below what would hurt the server.
const (
	// MaxSize is the largest body Decode accepts, in bytes.
	MaxSize = 1 << 20
	// MaxDepth is the deepest nesting of objects and arrays accepted; the
	// top-level object or array is depth 1.
	MaxDepth = 64
	// MaxAliasNodes bounds the nodes produced by expanding YAML aliases, so
	// that "billion laughs" documents fail after a few thousand steps.
	MaxAliasNodes = 10_000
	// MaxAliasBytes bounds the scalar bytes produced by expanding YAML
	// aliases: a small document aliasing one large string many times must
	// not turn into gigabytes of JSON.
	MaxAliasBytes = MaxSize
)

// Errors that callers may want to map to distinct statuses (413, 415) or
// recognise in tests. Every other Decode error is a plain client mistake
// (400).
var (
	ErrTooLarge             = errors.New("body: too large")
	ErrUnsupportedMediaType = errors.New("body: unsupported media type")
	ErrInvalidUTF8          = errors.New("body: invalid UTF-8")
	ErrTooDeep              = fmt.Errorf("body: nesting deeper than %d levels", MaxDepth)
	ErrAliasExpansion       = errors.New("body: yaml: aliases expand beyond the allowed size")
)

// FormatFromContentType maps a Content-Type header to a Format. An empty
// header means JSON, as in Vamp's API. A charset other than UTF-8 is refused
// because the decoders only understand UTF-8.
func FormatFromContentType(ct string) (Format, error) {
	if strings.TrimSpace(ct) == "" {
		return JSON, nil
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return JSON, fmt.Errorf("%w: %q: %v", ErrUnsupportedMediaType, ct, err)
	}
	if cs, ok := params["charset"]; ok {
		switch strings.ToLower(cs) {
		case "utf-8", "utf8", "us-ascii":
		default:
			return JSON, fmt.Errorf("%w: charset %q (only utf-8)", ErrUnsupportedMediaType, cs)
		}
	}
	switch mt {
	case "application/json":
		return JSON, nil
	case "application/x-yaml", "application/yaml", "text/yaml", "text/x-yaml":
		return YAML, nil
	default:
		return JSON, fmt.Errorf("%w: %q (use application/json or application/x-yaml)", ErrUnsupportedMediaType, mt)
	}
}

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// Decode checks data against the limits above and decodes it into v, which
// is filled through encoding/json in both formats. A body that is empty or
// only whitespace leaves v untouched and is not an error: whether an empty
// body is acceptable is the caller's decision.
func Decode(format Format, data []byte, v any) error {
	if len(data) > MaxSize {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(data), MaxSize)
	}
	if !utf8.Valid(data) {
		return ErrInvalidUTF8
	}
	data = bytes.TrimPrefix(data, utf8BOM)
	if len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	switch format {
	case JSON:
		return decodeJSON(data, v)
	case YAML:
		return decodeYAML(data, v)
	default:
		return fmt.Errorf("body: unknown format %d", int(format))
	}
}
