package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// sseFrame is the server-sent-events message of one event:
//
//	id: <event id>
//	event: <type>
//	data: <event JSON on one line>
func sseFrame(e wire.Event) ([]byte, error) {
	data, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("encoding event %d: %w", e.ID, err)
	}
	// encoding/json escapes control characters in strings and compacts raw
	// values, so data is one line; a line break would split the message.
	if bytes.ContainsAny(data, "\r\n") {
		return nil, fmt.Errorf("encoding event %d: JSON spans lines", e.ID)
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "id: %d\n", e.ID)
	if t := oneLine(e.Type); t != "" {
		fmt.Fprintf(&b, "event: %s\n", t)
	}
	b.WriteString("data: ")
	b.Write(data)
	b.WriteString("\n\n")
	return b.Bytes(), nil
}

// oneLine removes line breaks, which would end an SSE field early. Stored
// types cannot contain them; this guards against a future store that
// allows them.
func oneLine(s string) string {
	return strings.NewReplacer("\r", " ", "\n", " ").Replace(s)
}
