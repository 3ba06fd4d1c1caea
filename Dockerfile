# crowsnest container image: one static binary (the web UI embedded) on an
# empty base, run as non-root (65532). Give it the engine socket and its
# group, and for the cheap stats source the host's cgroup tree and /proc
# (see docker-compose.yml and the README's "Container image").
#
#   docker build -t crowsnest .                     # builds the UI and the binary
#
# make image builds the same runtime image from a binary built outside
# (bin/crowsnest; no base image needed) with prebuilt.Dockerfile. It is a
# file of its own because the classic builder builds every stage before
# its target: a prebuilt stage here would make docker build . need
# bin/crowsnest.

# The build: the wasm UI with its brotli and gzip copies and xterm.js (make
# wasm), which the server embeds, then the server itself. The build tools
# come from Debian unless the base has them already.
FROM golang:1.26-bookworm AS build
RUN { command -v brotli && command -v make && command -v esbuild && test -d /usr/share/nodejs/xterm; } >/dev/null \
	|| { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends brotli libjs-xterm node-xterm esbuild make \
	&& rm -rf /var/lib/apt/lists/*; }
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN make wasm \
	&& CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o /out/crowsnest ./server \
	&& mkdir /out/data

FROM scratch
COPY --from=build /out/crowsnest /crowsnest
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
VOLUME /data
EXPOSE 8080
ENTRYPOINT ["/crowsnest", "--addr", "0.0.0.0:8080", "--data", "/data"]
