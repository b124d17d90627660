# Shortcuts; each target is one documented command.
.PHONY: run test bench

run:
	go run ./cmd/server

test:
	go test -race ./...

# Every figure of docs/BENCHMARKS.md: under an hour on 2 cores; writes docs/bench/
bench:
	go run ./cmd/loadgen -out docs/bench
