#!/usr/bin/env bash
# Builds the App's image and the development store's image without pulling any base image:
# the binaries are compiled here (static, CGO_ENABLED=0) and copied onto scratch, with this
# machine's CA certificates, by docker/app-prebuilt.Dockerfile (the runtime stage of the
# Dockerfile) and docker/devstore.Dockerfile.
#
#   docker/build-offline.sh                      # zenvia-7targets:dev, zenvia-7targets-devstore:dev
#   APP_IMAGE=app:x STORE_IMAGE=store:x docker/build-offline.sh
#
# The build context is a fresh temporary directory holding only bin/, so the work tree is left
# as it was and the context is a few megabytes.
set -euo pipefail
cd "$(dirname "$0")/.."

app_image=${APP_IMAGE:-zenvia-7targets:dev}
store_image=${STORE_IMAGE:-zenvia-7targets-devstore:dev}
ca_bundle=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
if [ ! -f "$ca_bundle" ]; then
  echo "build-offline: no CA bundle at $ca_bundle (install ca-certificates or set CA_BUNDLE)" >&2
  exit 1
fi

context=$(mktemp -d)
trap 'rm -rf "$context"' EXIT
mkdir -p "$context/bin/data"
CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$context/bin/" ./cmd/server ./cmd/healthcheck ./cmd/devstore
cp "$ca_bundle" "$context/bin/ca-certificates.crt"

# The classic builder and BuildKit both build these; -q keeps CI logs short.
docker build -q -f docker/app-prebuilt.Dockerfile -t "$app_image" "$context" >/dev/null
docker build -q -f docker/devstore.Dockerfile -t "$store_image" "$context" >/dev/null
echo "built $app_image and $store_image"
