# crowsnest container image: one static binary on an empty base, run as
# non-root. Give it the engine socket's group (see docker-compose.yml).
#
#   docker build -t crowsnest .                     # builds the binary too
#   make image                                      # from a binary built outside
#                                                   # (bin/crowsnest; no base image needed)

# The runtime image from a binary built outside. It comes first so that the
# classic builder, which builds every stage up to its target, needs nothing
# but the build context for it.
FROM scratch AS prebuilt
COPY bin/crowsnest /crowsnest
COPY --chown=65532:65532 bin/data /data
USER 65532:65532
VOLUME /data
EXPOSE 8080
ENTRYPOINT ["/crowsnest", "--addr", "0.0.0.0:8080", "--data", "/data"]

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o /out/crowsnest ./server && mkdir /out/data

FROM scratch
COPY --from=build /out/crowsnest /crowsnest
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
VOLUME /data
EXPOSE 8080
ENTRYPOINT ["/crowsnest", "--addr", "0.0.0.0:8080", "--data", "/data"]
