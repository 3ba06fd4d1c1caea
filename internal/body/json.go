package body

import (
	"encoding/json"
	"fmt"
)

// decodeJSON measures nesting before handing data to encoding/json, whose own
// limit (10,000) is far too generous for request bodies.
func decodeJSON(data []byte, v any) error {
	if err := checkJSONDepth(data); err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("body: json: %w", err)
	}
	return nil
}

// checkJSONDepth counts brackets outside strings. It does not validate the
// syntax (json.Unmarshal does); it only has to be right for valid documents
// and never under-count for invalid ones.
func checkJSONDepth(data []byte) error {
	depth := 0
	inString, escaped := false, false
	for _, c := range data {
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '[', '{':
			depth++
			if depth > MaxDepth {
				return ErrTooDeep
			}
		case ']', '}':
			depth--
		}
	}
	return nil
}
