# crowsnest — build, run, test. Every target works on a fresh machine with Go
# and a Docker engine; what tests need beyond that is installed here.

GO       ?= go
BIN      := bin/crowsnest
DATA     ?= data
ADDR     ?= 127.0.0.1:8080
PKGS     := ./...
FUZZTIME ?= 30s

.PHONY: all build run test bench fuzz soak image vet clean wasm icons templ build-tools test-tools

all: build

build: wasm
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags='-s -w' -o $(BIN) ./server

## run: crowsnest on $(ADDR) against the local engine, events in $(DATA)/crowsnest.db
run: build
	./$(BIN) --addr $(ADDR) --data $(DATA)

vet:
	$(GO) mod tidy -diff
	$(GO) vet $(PKGS)
	GOOS=js GOARCH=wasm $(GO) vet ./app
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' | grep -v '_templ.go$$')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi

## test: every test, with the race detector, on the real engine (and, for
## the UI, in Debian's chromium, installed here when missing)
test: test-tools wasm vet
	$(GO) test -race -count=1 -timeout 30m $(PKGS)

## bench: the benchmarks, with a report in BENCHMARKS.md (run with CI=true:
## a missing engine or browser fails the run instead of skipping)
bench: test-tools
	bash .ci/bench

## fuzz: each fuzz target for $(FUZZTIME)
fuzz:
	bash .ci/fuzz $(FUZZTIME)

## soak: the real binary on loopback under 1,000 websockets, 200 SSE streams,
## 500 event POSTs/s and the stats of 50 helper containers for $(SOAK_DURATION)
## (server/soak_test.go); it stops by itself, removes its containers and
## writes the soak section of BENCHMARKS.md. make soak SOAK_DURATION=3m
SOAK_DURATION ?= 10m
soak:
	CROWSNEST_SOAK=1 SOAK_DURATION=$(SOAK_DURATION) $(GO) test -run '^TestSoak$$' -count=1 -timeout 3h -v ./server

## image: the container image, from a binary built here (no base image needed)
image: build
	mkdir -p bin/data
	docker build -f prebuilt.Dockerfile -t crowsnest:latest .

## wasm: the web UI (web/app.wasm.br and .gz, and the toolchain's
## wasm_exec.js), embedded into the binary by the next build. The raw
## app.wasm is built into bin/, outside what the binary embeds: it would add
## 9.7 MB for the rare client that accepts neither encoding, which the
## server answers by decompressing the gzip copy instead.
wasm: web/app.wasm.br web/app.wasm.gz web/wasm_exec.js web/version.txt $(XTERM)

# The container page's terminal: xterm.js and its fit addon as Debian's
# libjs-xterm and node-xterm ship them, bundled by Debian's esbuild into
# one script (app/xterm.entry.js says why), beside the app (git-ignored,
# like it) and served from crowsnest's own origin.
XTERM_DIR := /usr/share/javascript/xterm
XTERM     := web/xterm.js web/xterm.css

web/xterm.js: app/xterm.entry.js | build-tools
	esbuild --bundle --minify --format=iife --log-level=warning $< --outfile=$@

web/xterm.css: | build-tools
	cp $(XTERM_DIR)/xterm.css $@

WASM_SRC := $(shell find app internal/wire -name '*.go' 2>/dev/null) go.mod go.sum
WASM_RAW := bin/app.wasm

# rm: a raw copy an older make wasm left in web/ would be embedded again.
$(WASM_RAW): $(WASM_SRC)
	GOOS=js GOARCH=wasm $(GO) build -trimpath -ldflags='-s -w' -o $@ ./app
	rm -f web/app.wasm

# Level 11 with a 16 MiB window: the best ratio, about 20 s on two cores, and
# only when the app changed.
web/app.wasm.br: $(WASM_RAW) | build-tools
	brotli -f -q 11 -w 24 -o $@ $<

web/app.wasm.gz: $(WASM_RAW)
	gzip -9 -n -c $< > $@

# The service worker's cache is named after this hash of every asset, so
# clients refresh exactly when something they cache changed.
web/version.txt: $(WASM_RAW) web/wasm_exec.js web/app.css web/icon.svg web/icon-192.png web/icon-512.png $(XTERM)
	cat $^ | sha256sum | cut -c1-20 > $@

# go-app embeds Go 1.21's wasm_exec.js, which cannot run what Go 1.26 builds.
web/wasm_exec.js: go.mod
	cp "$$($(GO) env GOROOT)/lib/wasm/wasm_exec.js" $@

## icons: rasterise web/icon.svg into the PWA's PNG icons (committed output)
icons:
	for s in 192 512; do \
	  printf '<!doctype html><body style="margin:0"><img src="file://%s/web/icon.svg" width="%s" height="%s" style="display:block">' "$(CURDIR)" $$s $$s > /tmp/crowsnest-icon.html; \
	  chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --default-background-color=00000000 \
	    --window-size=$$s,$$s --screenshot=web/icon-$$s.png file:///tmp/crowsnest-icon.html; \
	done

## templ: regenerate the server-rendered pages (server/api/*_templ.go, committed)
templ:
	$(GO) run github.com/a-h/templ/cmd/templ@v0.3.977 generate

# Debian packages, installed only when missing, with apt-get as root (the CI
# machine) or through sudo: brotli to build the UI; chromium and OpenSSH for
# the browser and ssh:// engine tests (the latter run a private sshd on
# 127.0.0.1); podman for the tests against a second engine (each test binary
# runs a rootful podman system service on a private socket); debootstrap to
# make the Dockerfile's golang base image when no registry can be pulled
# from (server/imagetest, internal/testenv/gobase.go); busybox-static for the
# shell image of the exec tests. libjs-xterm, node-xterm and esbuild, for the
# container page's terminal, are build tools. Where neither
# works, the error names what to install by hand.
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
APT_INSTALL = install() { { $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$$@"; } || \
	{ echo "could not install $$* with apt-get (needs root or sudo): install it by hand" >&2; exit 1; }; }; install

## build-tools: what building needs beyond Go
build-tools:
	@missing=""; \
	command -v brotli >/dev/null 2>&1 || missing="$$missing brotli"; \
	test -f $(XTERM_DIR)/xterm.js || missing="$$missing libjs-xterm"; \
	test -d /usr/share/nodejs/xterm || missing="$$missing node-xterm"; \
	command -v esbuild >/dev/null 2>&1 || missing="$$missing esbuild"; \
	if [ -n "$$missing" ]; then $(APT_INSTALL) $$missing; fi

## test-tools: what the tests need beyond Go and an engine
test-tools:
	@missing=""; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	{ command -v sshd || test -x /usr/sbin/sshd; } >/dev/null 2>&1 || missing="$$missing openssh-server"; \
	command -v ssh >/dev/null 2>&1 || missing="$$missing openssh-client"; \
	command -v podman >/dev/null 2>&1 || missing="$$missing podman"; \
	{ command -v debootstrap || test -x /usr/sbin/debootstrap; } >/dev/null 2>&1 || missing="$$missing debootstrap"; \
	test -x /bin/busybox || missing="$$missing busybox-static"; \
	if [ -n "$$missing" ]; then $(APT_INSTALL) $$missing; fi

clean:
	rm -rf bin web/app.wasm web/app.wasm.br web/app.wasm.gz web/wasm_exec.js web/version.txt $(XTERM)
