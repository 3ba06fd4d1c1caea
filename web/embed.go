// Package web holds the static assets of the web UI, embedded so the
// crowsnest binary alone is the product: the stylesheet, the icons and, once
// `make wasm` has run, the compiled app (app.wasm as its .br and .gz
// copies only: the server decompresses the gzip one for a client that
// takes neither) and the toolchain's wasm_exec.js.
package web

import "embed"

// Files is every asset of this directory. The pattern is "*" rather than a
// list of names because app.wasm and wasm_exec.js are build output: a fresh
// clone has neither, and an embed pattern that matches nothing fails the
// build. "*" always matches the committed stylesheet and icons (and this
// file, which the server never serves), so `go build ./...` works before
// `make wasm` has run and the server explains what is missing instead.
//
//go:embed *
var Files embed.FS
