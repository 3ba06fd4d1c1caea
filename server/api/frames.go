package api

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// greeting is the first message of every DockStat socket.
var greeting = mustJSON(wire.ConnectionEstablished)

// greet sends the greeting, as a stream's Start.
func greet(_ context.Context, send func([]byte) error) error {
	return send(greeting)
}

// sendJSON sends v as one JSON frame.
func sendJSON(send func([]byte) error, v any) error {
	frame, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding a frame: %w", err)
	}
	return send(frame)
}

// appendJSON appends v as one JSON frame to dst.
func appendJSON(dst [][]byte, v any) ([][]byte, error) {
	frame, err := json.Marshal(v)
	if err != nil {
		return dst, fmt.Errorf("encoding a frame: %w", err)
	}
	return append(dst, frame), nil
}

// mustJSON encodes a value that always encodes.
func mustJSON(v any) []byte {
	frame, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return frame
}
