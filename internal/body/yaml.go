package body

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"

	"go.yaml.in/yaml/v3"
)

// decodeYAML parses data into a node tree (which keeps aliases unexpanded),
// converts the tree to JSON-compatible values while counting what alias
// expansion produces, then goes through encoding/json so that v needs json
// tags only.
func decodeYAML(data []byte, v any) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil
		}
		return fmt.Errorf("body: %w", err)
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return fmt.Errorf("body: %w", err)
	default:
		return errors.New("body: yaml: more than one document")
	}
	var c converter
	val, err := c.convert(&doc, 0, false)
	if err != nil {
		return err
	}
	js, err := json.Marshal(val)
	if err != nil {
		return fmt.Errorf("body: yaml: %w", err)
	}
	if err := json.Unmarshal(js, v); err != nil {
		return fmt.Errorf("body: %w", err)
	}
	return nil
}

// converter turns a yaml.Node tree into map[string]any / []any / scalars.
// It tracks the work done inside aliases, because that is the only part of
// the output that is not bounded by the input size.
type converter struct {
	aliasNodes int
	aliasBytes int
}

func (c *converter) convert(n *yaml.Node, depth int, inAlias bool) (any, error) {
	if inAlias {
		c.aliasNodes++
		if c.aliasNodes > MaxAliasNodes {
			return nil, ErrAliasExpansion
		}
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return c.convert(n.Content[0], depth, inAlias)
	case yaml.AliasNode:
		if n.Alias == nil {
			return nil, fmt.Errorf("body: yaml: line %d: unknown alias %q", n.Line, n.Value)
		}
		return c.convert(n.Alias, depth, true)
	case yaml.ScalarNode:
		if inAlias {
			c.aliasBytes += len(n.Value)
			if c.aliasBytes > MaxAliasBytes {
				return nil, ErrAliasExpansion
			}
		}
		return scalar(n)
	case yaml.SequenceNode:
		if depth+1 > MaxDepth {
			return nil, ErrTooDeep
		}
		out := make([]any, 0, len(n.Content))
		for _, item := range n.Content {
			v, err := c.convert(item, depth+1, inAlias)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case yaml.MappingNode:
		if depth+1 > MaxDepth {
			return nil, ErrTooDeep
		}
		return c.mapping(n, depth+1, inAlias)
	case 0:
		return nil, nil
	default:
		return nil, fmt.Errorf("body: yaml: line %d: unsupported node kind %d", n.Line, n.Kind)
	}
}

// mapping converts a mapping node at the given depth. Merge keys (<<) are
// honoured the YAML way: explicit keys win over merged ones, and earlier
// merge sources win over later ones.
func (c *converter) mapping(n *yaml.Node, depth int, inAlias bool) (map[string]any, error) {
	out := make(map[string]any, len(n.Content)/2)
	var merged map[string]any
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, vn := n.Content[i], n.Content[i+1]
		if kn.Kind == yaml.ScalarNode && kn.ShortTag() == "!!merge" {
			if merged == nil {
				merged = make(map[string]any)
			}
			if err := c.merge(vn, depth, inAlias, merged); err != nil {
				return nil, err
			}
			continue
		}
		key, err := c.key(kn, inAlias)
		if err != nil {
			return nil, err
		}
		if _, dup := out[key]; dup {
			return nil, fmt.Errorf("body: yaml: line %d: duplicate key %q", kn.Line, key)
		}
		val, err := c.convert(vn, depth, inAlias)
		if err != nil {
			return nil, err
		}
		out[key] = val
	}
	for k, v := range merged {
		if _, ok := out[k]; !ok {
			out[k] = v
		}
	}
	return out, nil
}

func (c *converter) merge(vn *yaml.Node, depth int, inAlias bool, into map[string]any) error {
	sources := []*yaml.Node{vn}
	if vn.Kind == yaml.SequenceNode {
		sources = vn.Content
	}
	for _, src := range sources {
		// The merged mapping sits at the level of the mapping it merges into,
		// so it converts at depth-1 (convert adds the level back).
		v, err := c.convert(src, depth-1, inAlias)
		if err != nil {
			return err
		}
		m, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("body: yaml: line %d: merge (<<) needs a mapping or a list of mappings", src.Line)
		}
		for k, val := range m {
			if _, seen := into[k]; !seen {
				into[k] = val
			}
		}
	}
	return nil
}

// key accepts only string keys: JSON objects have nothing else, and silently
// turning 1 or true into "1" or "true" would hide mistakes.
func (c *converter) key(kn *yaml.Node, inAlias bool) (string, error) {
	if kn.Kind == yaml.AliasNode && kn.Alias != nil {
		c.aliasNodes++
		if c.aliasNodes > MaxAliasNodes {
			return "", ErrAliasExpansion
		}
		return c.key(kn.Alias, true)
	}
	if kn.Kind != yaml.ScalarNode || kn.ShortTag() != "!!str" {
		return "", fmt.Errorf("body: yaml: line %d: map keys must be strings", kn.Line)
	}
	if inAlias {
		c.aliasBytes += len(kn.Value)
		if c.aliasBytes > MaxAliasBytes {
			return "", ErrAliasExpansion
		}
	}
	return kn.Value, nil
}

// scalar resolves a scalar the way YAML 1.2 does, except that timestamps and
// binary stay as their text: JSON has no such types and RFC 3339 text is what
// the store's parsers expect.
func scalar(n *yaml.Node) (any, error) {
	switch n.ShortTag() {
	case "!!null":
		return nil, nil
	case "!!bool", "!!int":
		var v any
		if err := n.Decode(&v); err != nil {
			return nil, fmt.Errorf("body: yaml: line %d: %w", n.Line, err)
		}
		return v, nil
	case "!!float":
		var f float64
		if err := n.Decode(&f); err != nil {
			return nil, fmt.Errorf("body: yaml: line %d: %w", n.Line, err)
		}
		if math.IsInf(f, 0) || math.IsNaN(f) {
			return nil, fmt.Errorf("body: yaml: line %d: %q is not a finite number", n.Line, n.Value)
		}
		return f, nil
	default:
		return n.Value, nil
	}
}
