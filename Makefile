# berth: build, test, demo and benchmark. Every target runs as root on Debian 12.
# `make demo` and `make test` are the two commands that do everything (see README).

SHELL      := /bin/bash
GO         ?= go
export PATH := /usr/local/go/bin:$(PATH)
export GOFLAGS ?= -mod=mod
export CGO_ENABLED := 1

BIN        := bin/berth
PREFIX     ?= /usr/local
TAGS       := seccomp netgo osusergo
VERSION    ?= 0.1.0-dev$(shell c=$$(git rev-parse --short HEAD 2>/dev/null) && echo "+$$c")
LDFLAGS    := -s -w -extldflags -static -X main.Version=$(VERSION)

INTEGRATION_TIMEOUT ?= 30m
TESTFLAGS ?=

.PHONY: all build install test unit integration demo bench deps clean fmt vet check-go

all: build

check-go:
	@command -v $(GO) >/dev/null || { echo "Go is missing: install Go 1.26 to /usr/local/go" >&2; exit 1; }

## build: the static binary bin/berth
build: check-go
	@mkdir -p bin
	$(GO) build -trimpath -tags "$(TAGS)" -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/berth

## install: copy bin/berth to $(PREFIX)/bin
install: build
	install -D -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/berth

## test: build, vet, unit tests, then the integration tests as root against bin/berth
test: build vet unit integration

unit: check-go
	$(GO) test -tags "$(TAGS)" -count=1 $(TESTFLAGS) $$($(GO) list ./... | grep -v '/integration$$')

integration: build
	@if [ "$$(id -u)" != 0 ]; then echo "integration tests need root: they will be skipped" >&2; fi
	BERTH_BINARY=$(CURDIR)/$(BIN) $(GO) test -count=1 -timeout $(INTEGRATION_TIMEOUT) $(TESTFLAGS) ./integration/...

## demo: install what is missing, build, make a busybox image from the host and run it
demo: deps build
	BERTH=$(CURDIR)/$(BIN) ./scripts/demo.sh

## bench: pull/run/exec/ps timings and monitor memory (see README "Benchmarks")
bench: build
	BERTH=$(CURDIR)/$(BIN) ./scripts/bench.sh

## deps: apt-get install whichever of the packages that build, tests and demo need is missing
deps:
	@./scripts/deps.sh

clean:
	rm -rf bin

fmt: check-go
	$(GO) fmt ./...

vet: check-go
	$(GO) vet -tags "$(TAGS)" ./...
