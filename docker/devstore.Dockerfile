# The development store's image: cmd/devstore (FerretDB on SQLite) on scratch, built offline
# from a binary compiled on the host (docker/build-offline.sh does this):
#
#   mkdir -p bin/data
#   CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o bin/ ./cmd/devstore
#   docker build -f docker/devstore.Dockerfile -t zenvia-7targets-devstore .
#
# For development and tests only: the store has no authentication. In the container it
# listens on all of the container's interfaces, so `-p 127.0.0.1:27017:27017` publishes it
# on the host's loopback; with host networking set STORE_ADDR to a loopback address.

FROM scratch
ENV STORE_ADDR=0.0.0.0:27017 DATA_DIR=/data
EXPOSE 27017
VOLUME ["/data"]
USER 65532:65532
COPY bin/devstore /devstore
COPY --chown=65532:65532 bin/data/ /data/
ENTRYPOINT ["/devstore"]
