package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/crowsnest-hq/crowsnest/internal/body"
	"github.com/crowsnest-hq/crowsnest/server/respond"
)

// errNotAcceptable means the Accept header allows neither JSON nor YAML.
var errNotAcceptable = errors.New("not acceptable: this endpoint answers application/json or application/x-yaml")

// yamlMediaTypes are the media types under which crowsnest answers YAML.
// application/x-yaml is Vamp's; the others are what other clients send.
var yamlMediaTypes = []string{"application/x-yaml", "application/yaml", "text/yaml", "text/x-yaml"}

// responseFormat picks the format of the answer from the Accept header.
//
// Vamp's rule comes first: an Accept that starts with a YAML media type gets
// YAML. Otherwise JSON, the default, is chosen whenever the header allows it
// (empty, */*, application/*, application/json); a header that allows YAML
// but not JSON still gets YAML; one that allows neither is errNotAcceptable
// (406). A media range with q=0 allows nothing, as RFC 9110 says.
func responseFormat(r *http.Request) (body.Format, error) {
	accept := strings.TrimSpace(strings.Join(r.Header.Values("Accept"), ","))
	if accept == "" {
		return body.JSON, nil
	}
	lower := strings.ToLower(accept)
	for _, t := range yamlMediaTypes {
		if strings.HasPrefix(lower, t) && acceptable(firstRange(lower)) {
			return body.YAML, nil
		}
	}
	yamlOK := false
	for _, rng := range strings.Split(lower, ",") {
		if !acceptable(rng) {
			continue
		}
		switch mediaType(rng) {
		case "*/*", "application/*", "application/json":
			return body.JSON, nil
		case "text/*":
			yamlOK = true
		default:
			for _, t := range yamlMediaTypes {
				if mediaType(rng) == t {
					yamlOK = true
				}
			}
		}
	}
	if yamlOK {
		return body.YAML, nil
	}
	return body.JSON, errNotAcceptable
}

// firstRange is the first media range of an Accept header.
func firstRange(accept string) string {
	first, _, _ := strings.Cut(accept, ",")
	return first
}

// mediaType is the media type of one media range, without its parameters.
func mediaType(rng string) string {
	t, _, _ := strings.Cut(rng, ";")
	return strings.TrimSpace(t)
}

// acceptable reports whether a media range allows its type at all: every
// range does unless its q parameter is zero.
func acceptable(rng string) bool {
	_, params, _ := strings.Cut(rng, ";")
	for _, p := range strings.Split(params, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok || strings.TrimSpace(k) != "q" {
			continue
		}
		q, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		return err != nil || q > 0 // a malformed q is ignored rather than refused
	}
	return true
}

// writeFormatted answers v with status in format f. YAML is produced from the
// JSON form of v, so both formats carry the same keys in the same order and
// every type needs only its JSON encoding (a stored event's value is raw
// JSON; a timestamp is an RFC 3339 string either way). Errors stay JSON
// ({"message"}), as everywhere in crowsnest.
func writeFormatted(w http.ResponseWriter, f body.Format, status int, v any) {
	if f != body.YAML {
		respond.JSON(w, status, v)
		return
	}
	out, err := marshalYAML(v)
	if err != nil {
		respond.Error(w, http.StatusInternalServerError, err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/x-yaml")
	w.WriteHeader(status)
	if _, err := w.Write(out); err != nil {
		slog.Debug("write response", "err", err) // the client left; nobody to tell
	}
}

// marshalYAML encodes v as YAML by way of its JSON encoding.
func marshalYAML(v any) ([]byte, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode response: %w", err)
	}
	return jsonToYAML(data)
}

// jsonToYAML converts one JSON document to YAML, keeping the order of object
// keys and the exact literal of every number (no float64 round trip, so ids
// and large integers survive), and quoting strings that YAML would otherwise
// read as another type ("true", "12", a timestamp).
func jsonToYAML(data []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	node, err := yamlNode(dec)
	if err != nil {
		return nil, fmt.Errorf("convert to YAML: %w", err)
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(node); err != nil {
		return nil, fmt.Errorf("encode YAML: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode YAML: %w", err)
	}
	return buf.Bytes(), nil
}

// stringNode is a YAML string scalar styled as yaml.v3 styles a Go string:
// quoted when a YAML 1.1 reader (most Vamp clients) would take it for
// something else ("yes", "on", "1:20", "12", a timestamp), literal when it
// spans lines.
func stringNode(s string) (*yaml.Node, error) {
	var n yaml.Node
	if err := n.Encode(s); err != nil {
		return nil, fmt.Errorf("encode string: %w", err)
	}
	return &n, nil
}

// yamlNode reads the next JSON value from dec as a YAML node.
func yamlNode(dec *json.Decoder) (*yaml.Node, error) {
	tok, err := dec.Token()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, io.ErrUnexpectedEOF
		}
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return nil, err
				}
				key, _ := k.(string) // object keys are always strings
				v, err := yamlNode(dec)
				if err != nil {
					return nil, err
				}
				kn, err := stringNode(key)
				if err != nil {
					return nil, err
				}
				n.Content = append(n.Content, kn, v)
			}
			if _, err := dec.Token(); err != nil { // the closing '}'
				return nil, err
			}
			return n, nil
		case '[':
			n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
			for dec.More() {
				v, err := yamlNode(dec)
				if err != nil {
					return nil, err
				}
				n.Content = append(n.Content, v)
			}
			if _, err := dec.Token(); err != nil { // the closing ']'
				return nil, err
			}
			return n, nil
		}
		return nil, fmt.Errorf("unexpected %v", t)
	case string:
		return stringNode(t)
	case json.Number:
		// No tag: YAML resolves every JSON number literal to !!int or
		// !!float by itself (an integer beyond 64 bits is a !!float to
		// YAML, where an explicit !!int would have to be written out).
		return &yaml.Node{Kind: yaml.ScalarNode, Value: t.String()}, nil
	case bool:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(t)}, nil
	case nil:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}, nil
	}
	return nil, fmt.Errorf("unexpected token %v", tok)
}
