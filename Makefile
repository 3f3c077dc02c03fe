# Gatehouse developer tasks. GNU make; every recipe runs under bash.
#
#   make run       build, then serve on the embedded store in ./data (no database server needed)
#   make run-postgres  the same on PostgreSQL: GATEHOUSE_DATABASE_URL if set, else a local database
#                  "gatehouse" (the local cluster started and the database created if missing)
#   make test      every test, with the race detector, including the PostgreSQL ones
#   make lint      gofmt, go vet, staticcheck, Wire drift, mock drift, OpenAPI lint (Redocly; needs node)
#   make generate  regenerate mocks (go generate) and wire_gen.go (wire gen)
#   make build     static binary in bin/gatehouse
#   make oauth2-proxy  bin/oauth2-proxy at the version tools/oauth2-proxy pins, for the browser
#                  test of Gatehouse as its provider (skipped without it, except under CI=true)
#   make bench     build, then benchmark register, login, refresh and /v1/me, and the OpenID
#                  Connect code round, userinfo and refresh grant, on both stores,
#                  then `gatehouse users import` (bench-import)
#                  (a private database each, servers on 127.0.0.1, stops and cleans up by itself)

SHELL       := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

GO          ?= go
BIN         ?= bin/gatehouse
# Stamped into the binary (`gatehouse version`, /admin/v1/status). git describe
# works without tags (it prints the short commit); outside a git checkout both are
# empty and the binary falls back to the VCS information Go records, if any.
VERSION     ?= $(shell git describe --tags --always --dirty 2>/dev/null)
COMMIT      ?= $(shell git rev-parse HEAD 2>/dev/null)
LDFLAGS     := -X main.version=$(VERSION) -X main.commit=$(COMMIT)
TEST_TIMEOUT ?= 8m

# Local PostgreSQL used by `make run-postgres` (user postgres, trust auth on 127.0.0.1).
PGHOST      ?= 127.0.0.1
PGPORT      ?= 5432
PGUSER      ?= postgres
PGDATABASE  ?= gatehouse
# Passed to `make run-postgres` only, so it cannot leak into the tests' environment.
PG_RUN_URL  ?= postgres://$(PGUSER)@$(PGHOST):$(PGPORT)/$(PGDATABASE)?sslmode=disable

# `make bench`: what it runs, each overridable (make bench BENCH_FOR=30s BENCH_STORES=postgres).
LOAD_BIN          ?= bin/gatehouse-load
# oauth2-proxy, built from its own module (tools/oauth2-proxy) so that its dependencies stay
# out of Gatehouse's go.mod; internal/browsertest runs it from this path.
OAUTH2_PROXY_BIN  := bin/oauth2-proxy
BENCH_STORES      ?= postgres,sqlite
BENCH_ENDPOINTS   ?= register,login,refresh,me,code,userinfo,oidc-refresh
BENCH_FOR         ?= 10s
BENCH_CONCURRENCY ?= 8
BENCH_USERS       ?= 1000
# More flags of `gatehouse-load bench` (e.g. -pg-waits, -sessions 2000; see tools/load/README.md).
BENCH_FLAGS       ?=
# The maintenance database of the PostgreSQL server the bench creates its
# database on (gatehouse_bench_<random>, dropped at the end); loopback only.
BENCH_PG_URL      ?= postgres://$(PGUSER)@$(PGHOST):$(PGPORT)/postgres?sslmode=disable

.PHONY: help run run-postgres db test lint fmt-check vet staticcheck wire-check mock-check openapi-lint generate build oauth2-proxy bench bench-import clean

help: ## list the targets
	@grep -E '^[a-z][a-z0-9-]*:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

# The binary replaces the recipe's shell (exec), so the server is the process
# that make waits for, and stopping it by its PID stops the server (make then
# exits with the server's status). Neither target touches a local PostgreSQL
# cluster when GATEHOUSE_DATABASE_URL is set: that database is used as it is.
run: build ## build, then serve (embedded store in ./data unless GATEHOUSE_DATABASE_URL is set)
	exec '$(abspath $(BIN))' serve

ifeq ($(strip $(GATEHOUSE_DATABASE_URL)),)
run-postgres: build db ## build, then serve on PostgreSQL: GATEHOUSE_DATABASE_URL if set, else the local "gatehouse" database
	GATEHOUSE_DATABASE_URL='$(PG_RUN_URL)' exec '$(abspath $(BIN))' serve
else
run-postgres: build
	exec '$(abspath $(BIN))' serve
endif

db: ## start the local PostgreSQL cluster if needed and create the "gatehouse" database
	@if ! pg_isready -q -h $(PGHOST) -p $(PGPORT); then \
		echo "PostgreSQL is not answering on $(PGHOST):$(PGPORT); starting the local cluster"; \
		pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start; \
		for i in $$(seq 30); do pg_isready -q -h $(PGHOST) -p $(PGPORT) && break; sleep 1; done; \
	fi
	@psql -h $(PGHOST) -p $(PGPORT) -U $(PGUSER) -tc "SELECT 1 FROM pg_database WHERE datname='$(PGDATABASE)'" | grep -q 1 \
		|| createdb -h $(PGHOST) -p $(PGPORT) -U $(PGUSER) $(PGDATABASE)

test: ## go test -race ./... (needs PostgreSQL, see GATEHOUSE_TEST_DATABASE_URL)
	$(GO) test -race -count=1 -parallel 4 -timeout $(TEST_TIMEOUT) ./...

lint: fmt-check vet staticcheck wire-check mock-check openapi-lint ## every static check CI runs

fmt-check:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt: these files need formatting (run gofmt -w):"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

staticcheck:
	$(GO) tool staticcheck ./...

# Wire drift: `wire diff` regenerates wire_gen.go in memory and compares it with the
# committed file. It exits 0 and prints nothing when they match, exits 1 and prints a
# unified diff to stdout when wire_gen.go is stale, and exits 2 when generation fails.
# We fail on a non-zero exit *and* on any stdout, so a future wire release that prints a
# diff but exits 0 cannot slip through.
wire-check:
	@out=$$($(GO) tool wire diff ./wire/...) || { rc=$$?; echo "$$out"; echo "wire: wire_gen.go is stale or wire failed (exit $$rc); run 'make generate' and commit"; exit 1; }; \
	if [ -n "$$out" ]; then echo "$$out"; echo "wire: wire_gen.go is stale; run 'make generate' and commit"; exit 1; fi

# Mock drift: take a checksum of every .go file in the tree (tracked or not, so a newly
# generated file counts too) plus go.mod/go.sum, run `go generate ./...`, and checksum
# again. Any difference means a committed mock no longer matches its interface, or a
# generator produced a file nobody committed, or changed the module files. On a fresh
# clone this is exactly `go generate ./... && git diff --exit-code && git status
# --porcelain` showing nothing; comparing before/after instead of against git's index
# keeps it honest in a working copy with unrelated uncommitted edits. The regenerated
# files are left in place, so `git diff` shows what to commit.
# (wire_gen.go carries its own `//go:generate go run -mod=mod .../wire/cmd/wire` line, so
# this step also regenerates it: a stale wire_gen.go fails here as well as in wire-check.)
mock-check:
	@sums() { { find . -name '*.go' -not -path './.git/*' -not -path './bin/*' -print0; printf '%s\0' go.mod go.sum; } | sort -z | xargs -0 sha256sum; }; \
	before=$$(sums); \
	$(GO) generate ./...; \
	after=$$(sums); \
	if [ "$$before" != "$$after" ]; then \
		echo "go generate changed these files (mocks out of date; commit the regenerated files):"; \
		{ diff <(echo "$$before") <(echo "$$after") || true; } | sed -n 's/^[<>] [0-9a-f]*  /  /p' | sort -u; \
		exit 1; \
	fi

# OpenAPI lint: Redocly's recommended ruleset (tools/lint/redocly.yaml) on both
# documents, with the CLI pinned in tools/lint/package-lock.json (`npm ci` there on
# first use). Without node it is skipped with a message, except under CI=true, where
# it fails. Telemetry and the update check are off: CI has no network at test time.
REDOCLY := tools/lint/node_modules/.bin/redocly
openapi-lint:
	@if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then \
		if [ "$${CI:-}" = true ]; then echo "openapi-lint: node and npm are required under CI=true"; exit 1; fi; \
		echo "openapi-lint: skipped, node and npm are not installed (CI runs it)"; exit 0; \
	fi; \
	if [ ! -x $(REDOCLY) ]; then (cd tools/lint && npm ci --no-audit --no-fund --loglevel=error); fi; \
	REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true $(REDOCLY) lint --format=stylish \
		--config tools/lint/redocly.yaml api/openapi.yaml api/admin.openapi.yaml

generate: ## regenerate mocks and wire_gen.go
	$(GO) generate ./...
	$(GO) tool wire gen ./wire/...

build: ## static binary in bin/gatehouse, stamped with VERSION and COMMIT (git describe / rev-parse)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/gatehouse

oauth2-proxy: $(OAUTH2_PROXY_BIN) ## bin/oauth2-proxy at the version tools/oauth2-proxy/go.mod pins (for internal/browsertest)

# Rebuilt when the pin changes. A cold build compiles a few hundred packages: minutes on two cores.
$(OAUTH2_PROXY_BIN): tools/oauth2-proxy/go.mod tools/oauth2-proxy/go.sum
	cd tools/oauth2-proxy && $(GO) build -o '$(abspath $(OAUTH2_PROXY_BIN))' github.com/oauth2-proxy/oauth2-proxy/v7

# The load tool (tools/load) does the work: see tools/load/README.md. It
# measures one argon2id hash, then for each store seeds BENCH_USERS accounts
# into a fresh store, starts the built server on a free 127.0.0.1 port with
# rate limits off and the default argon2id cost, loads each endpoint closed
# loop for BENCH_FOR with BENCH_CONCURRENCY clients and prints the table.
bench: build ## build, then benchmark register, login, refresh, /v1/me and the OpenID Connect endpoints on both stores (BENCH_FOR=10s BENCH_CONCURRENCY=8 BENCH_STORES=postgres,sqlite)
	$(GO) build -o $(LOAD_BIN) ./tools/load
	'$(abspath $(LOAD_BIN))' bench -bin '$(abspath $(BIN))' -stores '$(BENCH_STORES)' -endpoints '$(BENCH_ENDPOINTS)' \
		-for '$(BENCH_FOR)' -c '$(BENCH_CONCURRENCY)' -users '$(BENCH_USERS)' -pg-url '$(BENCH_PG_URL)' $(BENCH_FLAGS)
	$(MAKE) --no-print-directory bench-import

bench-import: ## `gatehouse users import` of 50,000 users into a fresh store of each kind (users/s)
	GATEHOUSE_TEST_DATABASE_URL='$(BENCH_PG_URL)' $(GO) test -run '^$$' -bench UsersImport -benchtime 1x ./cmd/gatehouse

clean: ## remove build output
	rm -rf bin/ coverage.out coverage.html
