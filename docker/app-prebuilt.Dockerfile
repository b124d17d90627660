# The App's container image from binaries compiled on the host: no base image is pulled.
# The runtime stage is the one in ../Dockerfile, word for word (containertest's
# TestRuntimeStagesMatch checks it). docker/build-offline.sh does all of this:
#
#   mkdir -p bin/data
#   CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o bin/ ./cmd/server ./cmd/healthcheck
#   cp /etc/ssl/certs/ca-certificates.crt bin/
#   docker build -f docker/app-prebuilt.Dockerfile -t zenvia-7targets .

# runtime is what every image of the App is, however its binaries were built.
FROM scratch AS runtime
ENV PORT=8080 DATA_DIR=/data
EXPOSE 8080
VOLUME ["/data"]
USER 65532:65532
# /healthz answers while the process serves; /readyz (the database) is for load balancers.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 CMD ["/healthcheck"]
ENTRYPOINT ["/server"]

FROM runtime
COPY bin/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY bin/server bin/healthcheck /
COPY --chown=65532:65532 bin/data/ /data/
