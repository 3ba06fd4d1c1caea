# crowsnest — build, run, test. Every target works on a fresh machine with Go
# and a Docker engine; what tests need beyond that is installed here.

GO       ?= go
BIN      := bin/crowsnest
DATA     ?= data
ADDR     ?= 127.0.0.1:8080
PKGS     := ./...
FUZZTIME ?= 30s

.PHONY: all build run test bench fuzz image vet clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags='-s -w' -o $(BIN) ./server

## run: crowsnest on $(ADDR) against the local engine, events in $(DATA)/crowsnest.db
run: build
	./$(BIN) --addr $(ADDR) --data $(DATA)

vet:
	$(GO) vet $(PKGS)
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' | grep -v '_templ.go$$')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi

## test: every test, with the race detector, on the real engine
test: vet
	$(GO) test -race -count=1 -timeout 30m $(PKGS)

## bench: the benchmarks, with a report in BENCHMARKS.md
bench:
	bash .ci/bench

## fuzz: each fuzz target for $(FUZZTIME)
fuzz:
	bash .ci/fuzz $(FUZZTIME)

## image: the container image, from a binary built here (no base image needed)
image: build
	mkdir -p bin/data
	docker build --target prebuilt -t crowsnest:latest .

clean:
	rm -rf bin
