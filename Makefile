# The two commands a newcomer needs: `make dev` and `make test`.
# Both build the pinned servers into the tool cache on first use.

GO ?= go

.PHONY: dev test check tools migrate bench bench-micro soak fuzz test-deps histories deploy-check images cluster cluster-check

# STACK=cluster makes `make bench` and `make soak` run on the production-shaped
# stack (the real Temporal server on PostgreSQL) instead of the dev server.
STACK ?= dev
LAUNCH_TEST := $(if $(filter cluster,$(STACK)),cluster-test,test)

# Debian packages the tests read PDFs (pdftotext, pdftoppm) and QR codes (zbarimg) with.
TEST_PACKAGES := poppler-utils zbar-tools
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

## dev: start PostgreSQL, Temporal (with its Web UI), MinIO, Mailpit, the worker and the API; Ctrl-C stops all
dev:
	$(GO) run ./deploy/launcher dev

## cluster: the production-shaped stack: the real Temporal server (built once, about 5 minutes) on PostgreSQL with its Web UI, MinIO, Mailpit, three workers and two APIs behind a proxy; Ctrl-C stops all
cluster:
	$(GO) run ./deploy/launcher cluster

## cluster-check: build the real Temporal server, its schema tool and UI (once), check the config template loads in it and the schema files exist, then in Chromium that the Web UI shows a request decoded to a staff admin and encrypted to others (about 1 minute once built)
cluster-check: test-deps
	$(GO) run ./deploy/launcher cluster-tools
	$(GO) test -tags cluster -count=1 -run 'TestCluster' ./deploy/stack/
	$(GO) run ./deploy/launcher cluster-test -- $(GO) test -tags cluster -count=1 ./deploy/webui/

## test: vet, format check, and every test against a throwaway stack of real servers
test: check test-deps
	$(GO) run ./deploy/launcher test -- $(GO) test -count=1 -timeout 30m ./...
	cd internal/calendar/icstest && $(GO) vet ./... && $(GO) test -count=1 ./...
	cd deploy/checks && $(GO) vet ./... && $(GO) test -count=1 ./...

## check: go vet, gofmt, and workflowcheck (no time, randomness or I/O in workflow code)
check:
	$(GO) vet ./...
	$(GO) run go.temporal.io/sdk/contrib/tools/workflowcheck@v0.6.0 ./workflows/...
	@unformatted="$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))"; \
	if [ -n "$$unformatted" ]; then echo "gofmt needed on:"; echo "$$unformatted"; exit 1; fi

## test-deps: install what the tests need, when missing: Debian packages, Chromium, axe-core (pinned)
test-deps:
	@missing=""; \
	command -v pdftotext >/dev/null && command -v pdftoppm >/dev/null || missing="$$missing poppler-utils"; \
	command -v zbarimg >/dev/null || missing="$$missing zbar-tools"; \
	if [ -n "$$missing" ]; then \
		echo "installing$$missing (Debian packages the tests use)"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; \
	fi
	@bash deploy/browser-deps.sh

## bench: submissions and bookings over HTTP on a throwaway stack (STACK=cluster: the production-shaped one), as ratios to ceilings measured in the same run, with CPU per request (not part of make test; BENCH_FLAGS=-quick for a smoke run)
bench:
	$(GO) run ./deploy/launcher $(LAUNCH_TEST) -- $(GO) run ./deploy/bench $(BENCH_FLAGS)

## bench-micro: the testing.B benchmarks beside their code (document check, receipt, slots, staff queue on a throwaway stack)
bench-micro:
	$(GO) run ./deploy/launcher test -- $(GO) test -count=1 -run '^$$' -bench . ./internal/documents/ ./internal/receipt/ ./internal/schedule/ ./api/staff/

## fuzz: every Go fuzz target for FUZZTIME each (default 30s); the seed corpora also run in make test
fuzz:
	bash deploy/fuzz.sh

## soak: a few hundred submissions while Mailpit, MinIO and Temporal are stopped in turn (STACK=cluster: PostgreSQL, the Temporal history service, then a rolling restart of the APIs and workers); checks nothing was lost or sent twice (about 5 minutes, not part of make test; SOAK_FLAGS=-quick for a shorter run)
soak:
	$(GO) run ./deploy/soak -stack $(STACK) $(SOAK_FLAGS)

## deploy-check: Dockerfile, docker-compose.yml and the Helm chart, checked offline (deploy/checks, a module of its own)
deploy-check:
	cd deploy/checks && $(GO) vet ./... && $(GO) test -count=1 ./...

## images: build the API and worker images (needs Docker with BuildKit)
images:
	docker build -f deploy/Dockerfile --target api -t consular-api:local .
	docker build -f deploy/Dockerfile --target worker -t consular-worker:local .

## histories: record the end-to-end tests' workflow histories into workflows/testdata for the replay test
histories:
	$(GO) run ./deploy/launcher test -- env CONSULAR_RECORD_HISTORIES=$(CURDIR)/workflows/testdata \
		$(GO) test -count=1 -run 'TestSubmittedRequestIsBookedAttendedAndApproved|TestRequestWithoutVisitIsRemindedThenArchived|TestRetentionPurgeRunsOnTheRealStack|TestOfficerCorrectsALicenceNumberDuringTheVisit' ./api/

## tools: build the pinned servers (Temporal CLI, MinIO, Mailpit) into the tool cache
tools:
	$(GO) run ./deploy/launcher tools

## migrate: apply the database migrations to CONSULAR_DATABASE_URL
migrate:
	CONSULAR_ENV=$${CONSULAR_ENV:-development} $(GO) run ./api migrate
