# The App's container image, built from source: static binaries on scratch, run as an
# unprivileged user.
#
#   docker build -t zenvia-7targets .
#
# Offline (no image to pull, not even golang): compile on the host and build
# docker/app-prebuilt.Dockerfile, which puts the binaries into the same runtime stage as this
# file; docker/build-offline.sh does it all, the development store's image included.
#
# Why a second file and not a --target or build argument here: the classic builder (still the
# default of Debian's docker.io and any CLI without buildx) builds every stage before the target,
# so one file holding both paths would either pull golang offline or need ./bin/ to build from
# source. The runtime stage is therefore written twice, and containertest's
# TestRuntimeStagesMatch keeps the copies identical.
#
# Run it with PUBLIC_BASE_URL, MONGODB_URI, ENCRYPTION_KEY and the App credentials (see
# README.md); without MONGODB_URI the App keeps the embedded store in the /data volume.

ARG GO_VERSION=1.26

# build compiles static binaries: the App and its health check (scratch has no curl).
FROM golang:${GO_VERSION} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o /out/ ./cmd/server ./cmd/healthcheck \
 && mkdir -p /out/data

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
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/server /out/healthcheck /
COPY --from=build --chown=65532:65532 /out/data/ /data/
