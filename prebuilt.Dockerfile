# crowsnest's runtime image (see Dockerfile) from a binary built outside:
# make image, after make build. It needs nothing but the build context.
FROM scratch
COPY bin/crowsnest /crowsnest
COPY --chown=65532:65532 bin/data /data
USER 65532:65532
VOLUME /data
EXPOSE 8080
ENTRYPOINT ["/crowsnest", "--addr", "0.0.0.0:8080", "--data", "/data"]
