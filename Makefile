# The two commands a newcomer needs: `make dev` and `make test`.
# Both build the pinned servers into the tool cache on first use.

GO ?= go

.PHONY: dev test check tools migrate bench

## dev: start PostgreSQL, Temporal (with its Web UI), MinIO, Mailpit, the worker and the API; Ctrl-C stops all
dev:
	$(GO) run ./deploy/launcher dev

## test: vet, format check, and every test against a throwaway stack of real servers
test: check
	$(GO) run ./deploy/launcher test -- $(GO) test -count=1 -timeout 30m ./...

## check: go vet and gofmt
check:
	$(GO) vet ./...
	@unformatted="$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))"; \
	if [ -n "$$unformatted" ]; then echo "gofmt needed on:"; echo "$$unformatted"; exit 1; fi

## tools: build the pinned servers (Temporal CLI, MinIO, Mailpit) into the tool cache
tools:
	$(GO) run ./deploy/launcher tools

## migrate: apply the database migrations to CONSULAR_DATABASE_URL
migrate:
	$(GO) run ./api migrate
