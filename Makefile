# Chronik chaos: build, test and run the chaos harness.
# Every target works on a fresh machine with Go and a Docker engine.

GO        ?= go
BIN       := bin
PKGS      := ./...
TEST_TIMEOUT ?= 19m
# Flags of `make chaos`; override on the command line, e.g.
#   make chaos CHAOS_FLAGS="--nemesis kill,partition --time-limit 120s"
CHAOS_FLAGS ?=
# The Sarama compatibility test: its own Go module (see `make compat`).
COMPAT_DIR := broker/compat/sarama

export CGO_ENABLED := 0

.PHONY: all build test bench lint chaos validate nightly soak clean fuzz compat

all: build

build:
	$(GO) build -o $(BIN)/chronik-server ./broker/cmd/chronik-server
	$(GO) build -o $(BIN)/chaos ./harness/cmd/chaos

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	cd $(COMPAT_DIR) && $(GO) vet ./...

test: lint build
	$(GO) test -timeout $(TEST_TIMEOUT) $(PKGS)
	@# The nemeses verify faults on several nodes at once: their package
	@# also runs under the race detector (cgo, seconds).
	CGO_ENABLED=1 $(GO) test -race -count=1 -timeout 5m ./nemesis/
	$(MAKE) --no-print-directory compat

# Client compatibility against the built broker, in a nested Go module so
# that the clients' dependencies stay out of the root go.mod.
compat: build
	cd $(COMPAT_DIR) && CHRONIK_SERVER_BIN=$(abspath $(BIN))/chronik-server $(GO) test -count=1 -timeout 5m ./...

bench: build
	$(GO) test -run '^$$' -bench . -benchmem -timeout 30m $(PKGS)

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzDecodeRequest -fuzztime 60s ./broker/kafka

chaos: build
	./$(BIN)/chaos run --broker-binary $(BIN)/chronik-server $(CHAOS_FLAGS)

validate: build
	./$(BIN)/chaos validate

nightly: build
	@# The matrix of .github/workflows/nightly.yml, with longer runs:
	@# NIGHTLY_TIME_LIMIT (default 900s) per run; CHAOS_FLAGS are appended.
	@tl="$${NIGHTLY_TIME_LIMIT:-900s}"; failed=""; \
	for nemesis in kill pause partition loss delay client power-loss,crash,corrupt,kill,partition member,kill,partition kill,pause,partition,loss,delay,client,power-loss,crash,corrupt,member; do \
		echo "nightly: chaos run --nemesis $$nemesis --time-limit $$tl $(CHAOS_FLAGS)"; \
		./$(BIN)/chaos run --nemesis "$$nemesis" --time-limit "$$tl" $(CHAOS_FLAGS) || failed="$$failed $$nemesis"; \
	done; \
	if [ -n "$$failed" ]; then echo "nightly: invalid, unknown or failed runs:$$failed"; exit 1; fi; \
	echo "nightly: every nemesis family valid"

# One long run of every fault family at the load of issue 18 (2,000 ok
# operations per second; .github/workflows/soak.yml runs it weekly).
# SOAK_TIME_LIMIT (default 3600s), SOAK_WORKLOAD (queue), SOAK_RATE (4000)
# and SOAK_CONCURRENCY (200) override it; CHAOS_FLAGS are appended.
SOAK_NEMESIS := kill,pause,partition,loss,delay,client,power-loss,crash,corrupt,member
soak: build
	./$(BIN)/chaos run --broker-binary $(BIN)/chronik-server --name chronik-soak \
		--workload "$${SOAK_WORKLOAD:-queue}" --nemesis $(SOAK_NEMESIS) \
		--time-limit "$${SOAK_TIME_LIMIT:-3600s}" \
		--rate "$${SOAK_RATE:-4000}" --concurrency "$${SOAK_CONCURRENCY:-200}" $(CHAOS_FLAGS)

clean:
	-./$(BIN)/chaos clean 2>/dev/null || true
	rm -rf $(BIN)
