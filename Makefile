# The commands a newcomer types. Needs Rust (cargo with rustfmt and clippy) and,
# for the docs, Python 3.11; everything else is set up by the targets themselves.
#
#   make run     run the demo short film: frames, contact sheet and EDL in out/short-film
#   make test    every check CI runs: format, lints, all tests, generated files, docs

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON  ?= python3
VENV    := .venv
# The Python binding's tools (maturin, pytest, mypy), and the fresh venv its
# wheel is installed into for the tests.
PY_VENV      := .venv-python
PY_TEST_VENV := target/python-test-venv
QUALITY ?= draft

.PHONY: help run serve test fmt fmt-check lint unit-tests test-data check-generated check-codes generate docs docs-serve venv bench bench-canvas bench-node clean
.PHONY: python-venv python-wheel python-test bench-python
.PHONY: node-build node-test server-bin
.PHONY: schemathesis loadtest loadgen-smoke

help:
	@echo "make run        run examples/short-film with the demo functions (QUALITY=draft|standard|high|ultra);"
	@echo "                frames, WAVs, an EDL and a contact sheet in out/short-film; a second run is cached"
	@echo "make serve      start the HTTP server (reelgraph serve) on 127.0.0.1:8080 with data in reelgraph-data/;"
	@echo "                prints its URL and, at the first start, the admin API key"
	@echo "make test       cargo fmt --check, clippy -D warnings, cargo test (fetches its test data once),"
	@echo "                generated-file and documented-code checks, mkdocs --strict"
	@echo "make docs       build the docs site into site/ (creates .venv from docs/requirements.txt)"
	@echo "make docs-serve serve the docs at http://127.0.0.1:8000 while you edit"
	@echo "make generate   rewrite docs/node-types.md, docs/snippets/, docs/schema/ (and the Node and Python types made from it) and examples/short-film/canvas.json"
	@echo "make bench      run the criterion benchmarks (BENCH=, FILTER=, BASELINE=; see benches/README.md)"
	@echo "make bench-python  time reelgraph from Python against a plain-Python baseline and Rust"
	@echo "make python-wheel  build the Python package (one abi3 wheel) into target/wheels/"
	@echo "make python-test   install that wheel into a fresh venv and run its pytest suite"
	@echo "make node-build build the Node package in bindings-node/ (npm ci, then the release addon)"
	@echo "make node-test  the Node package's tests, its TypeScript example, and an install of its npm pack"
	@echo "make bench-node the Node package against a plain JavaScript baseline and against Rust"
	@echo "make loadtest   load a release server (SCENARIO=read|edit|mixed|ws-fanout|tasks, CLIENTS=100, DURATION=60 s;"
	@echo "                CLIENTS is 10000 for ws-fanout and 8 submitters for tasks; LOADGEN_FLAGS= more flags; docs/ops/load.md)"
	@echo "make schemathesis  schemathesis against the live server's OpenAPI document (part of make test)"
	@echo "make loadgen-smoke every load scenario for 2 s with a few clients against the debug server (part of make test)"
	@echo "make fmt        format all Rust code"
	@echo "make clean      remove build output, site/, out/ and .venv/"

## The main job: run the demo canvas with the `reelgraph` command line; it
## prints where the frames, the contact sheet and the EDL are.
run:
	cargo run -q -p reelgraph-server --bin reelgraph -- run examples/short-film/canvas.json --out out/short-film --quality $(QUALITY)

## The HTTP server with the demo canvas; prints its URL and, at the first
## start, the admin API key (flags: `reelgraph serve --help`).
serve:
	cargo run -q -p reelgraph-server --bin reelgraph -- serve

## Everything CI checks, in order of speed.
test: fmt-check lint unit-tests check-generated check-codes schemathesis loadgen-smoke python-test node-test docs
	@echo "make test: every check passed"

fmt:
	cargo fmt --all

fmt-check:
	cargo fmt --all --check

lint:
	cargo clippy --workspace --all-targets -- -D warnings

# Unit, integration and doc tests of every default workspace member. A test
# that hangs fails the target after 30 minutes (building included) rather
# than holding CI to its own limit.
unit-tests: test-data
	timeout 1800 cargo test --workspace

# The real-world ComfyUI workflows the importer's tests read (a pinned,
# checksummed PyPI wheel of JSON files), fetched once into target/.
test-data:
	bash scripts/fetch-comfyui-workflows.sh

# Generated files (node-type reference, demo canvas, the docs' JSON examples,
# the JSON Schemas in docs/schema/) must match what the code generates now,
# and the first Rust example of README.md and docs/getting-started.md must be
# the doctested one of core/README.md (the crate docs include that file).
check-generated:
	@tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	cargo run -q -p reelgraph --example catalog_reference > "$$tmp/node-types.md"; \
	diff -u docs/node-types.md "$$tmp/node-types.md" \
	  || { echo "docs/node-types.md is out of date: run 'make generate'"; exit 1; }; \
	cargo run -q -p reelgraph --example short_film -- --document > "$$tmp/canvas.json"; \
	diff -u examples/short-film/canvas.json "$$tmp/canvas.json" \
	  || { echo "examples/short-film/canvas.json is out of date: run 'make generate'"; exit 1; }; \
	cargo run -q -p reelgraph --example docs_examples -- "$$tmp/snippets"; \
	diff -ru docs/snippets "$$tmp/snippets" \
	  || { echo "docs/snippets/ is out of date: run 'make generate'"; exit 1; }; \
	cargo run -q -p reelgraph --example schemas -- "$$tmp/schema"; \
	diff -ru docs/schema "$$tmp/schema" \
	  || { echo "docs/schema/ is out of date: run 'make generate'"; exit 1; }; \
	awk '/^```rust/{f=1;next} /^```/{if(f)exit} f' core/README.md > "$$tmp/tested.rs"; \
	test -s "$$tmp/tested.rs" || { echo "core/README.md has no rust example"; exit 1; }; \
	for page in README.md docs/getting-started.md; do \
	  awk '/^```rust/{f=1;next} /^```/{if(f)exit} f' "$$page" > "$$tmp/page.rs"; \
	  diff -u "$$tmp/tested.rs" "$$tmp/page.rs" \
	    || { echo "the first rust example of $$page differs from the doctested one in core/README.md"; exit 1; }; \
	done; \
	cargo run -q -p reelgraph-server --example openapi -- "$$tmp/api"; \
	for f in openapi.json server-api.md server-websocket.json; do \
	  diff -u "docs/$$f" "$$tmp/api/$$f" \
	    || { echo "docs/$$f is out of date: run 'make generate'"; exit 1; }; \
	done; \
	$(PYTHON) bindings-python/scripts/gen_types.py --check; \
	echo "generated files are up to date"

# Every error code (Error::code), diagnostic code (validate) and op name
# (Op::name) must be documented in docs/concepts.md (error codes in the table
# it includes, docs/snippets/error-codes.md, made from the code).
check-codes:
	@codes=$$( { grep -ohE '=> "[a-z_]+",' core/src/error.rs core/src/ops.rs || true; \
	             grep -ohE '^\s+"[a-z]+(_[a-z]+)+",$$' core/src/validate/*.rs || true; } \
	           | grep -oE '[a-z_]+' | sort -u ); \
	test -n "$$codes" || { echo "found no codes in core/src/error.rs"; exit 1; }; \
	missing=$$(for c in $$codes; do grep -q "\`$$c\`" docs/concepts.md docs/snippets/error-codes.md || echo "$$c"; done); \
	if [ -n "$$missing" ]; then \
	  echo "docs/concepts.md does not document these codes or ops:" $$missing; exit 1; \
	fi; \
	echo "all $$(echo $$codes | wc -w) error codes, diagnostic codes and ops are documented"

generate:
	cargo run -q -p reelgraph --example catalog_reference > docs/node-types.md
	cargo run -q -p reelgraph --example short_film -- --document > examples/short-film/canvas.json
	rm -rf docs/snippets
	cargo run -q -p reelgraph --example docs_examples -- docs/snippets
	rm -rf docs/schema
	cargo run -q -p reelgraph --example schemas -- docs/schema
	cargo run -q -p reelgraph-server --example openapi -- docs
	node bindings-node/scripts/gen-types.mjs
	$(PYTHON) bindings-python/scripts/gen_types.py

# schemathesis (pinned, its own venv) against the live server: a bounded
# number of examples per operation; no 5xx, every response as documented.
ST_VENV := .venv-schemathesis

$(ST_VENV)/.installed: server-example/schemathesis/requirements.txt
	$(PYTHON) -m venv $(ST_VENV)
	$(ST_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r server-example/schemathesis/requirements.txt
	touch $@

schemathesis: $(ST_VENV)/.installed
	cargo build -q -p reelgraph-server --bin reelgraph
	timeout 900 bash scripts/schemathesis.sh target/debug/reelgraph $(ST_VENV)/bin/st

# The load generator (benches/src/bin/loadgen/) against a release server it
# starts on a temporary data directory and stops with SIGTERM; it also
# prints start-to-ready and idle memory. Not part of make test.
SCENARIO ?= mixed
# Clients by scenario: WebSocket connections (ws-fanout), submitters (tasks).
CLIENTS_ws-fanout := 10000
CLIENTS_tasks     := 8
CLIENTS  ?= $(or $(CLIENTS_$(SCENARIO)),100)
DURATION ?= 60

loadtest:
	cargo build -q --release -p reelgraph-server --bin reelgraph -p reelgraph-benches --bin loadgen
	target/release/loadgen --server target/release/reelgraph --scenario $(SCENARIO) --clients $(CLIENTS) --seconds $(DURATION) $(LOADGEN_FLAGS)

# Every scenario of the load generator, for 2 s with a few clients, against
# the debug server: each exits 1 on a failed request, a lost update or task,
# or a missed or out-of-order WebSocket event, so the tool the load figures
# come from keeps working. Part of make test.
loadgen-smoke: server-bin
	cargo build -q -p reelgraph-benches --bin loadgen
	@log=$$(mktemp); trap 'rm -f "$$log"' EXIT; \
	for scenario in read:20 edit:20 mixed:20 ws-fanout:50 tasks:2; do \
	  name=$${scenario%:*}; clients=$${scenario#*:}; \
	  timeout 300 target/debug/loadgen --server $(SERVER_BIN) --scenario $$name \
	    --clients $$clients --seconds 2 > "$$log" 2>&1 \
	    || { cat "$$log"; echo "loadgen-smoke: $$name failed"; exit 1; }; \
	  echo "loadgen-smoke: $$name passed"; \
	done

# The docs tool chain lives in .venv, pinned by docs/requirements.txt.
venv: $(VENV)/.installed

$(VENV)/.installed: docs/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r docs/requirements.txt
	touch $@

# The Python binding: one abi3 wheel (CPython 3.9+), built in release by
# maturin, then installed with pip into a new venv, as a user would, and
# tested there; the tests never see the source tree's package.
python-venv: $(PY_VENV)/.installed

$(PY_VENV)/.installed: bindings-python/requirements-dev.txt
	$(PYTHON) -m venv $(PY_VENV)
	$(PY_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r bindings-python/requirements-dev.txt
	touch $@

python-wheel: python-venv
	rm -f target/wheels/reelgraph-*.whl
	$(PY_VENV)/bin/maturin build --quiet --release -m bindings-python/Cargo.toml --out target/wheels

# The worker and HttpRunner tests talk to a real server: the `reelgraph`
# binary, built here and named by REELGRAPH_BIN (a missing one fails them).
SERVER_BIN := $(CURDIR)/target/debug/reelgraph

server-bin:
	cargo build -q -p reelgraph-server --bin reelgraph

python-test: python-wheel server-bin
	rm -rf $(PY_TEST_VENV)
	$(PYTHON) -m venv $(PY_TEST_VENV)
	$(PY_TEST_VENV)/bin/python -m pip install --quiet --disable-pip-version-check \
	  -r bindings-python/requirements-dev.txt target/wheels/reelgraph-*.whl
	cd bindings-python/tests && REELGRAPH_BIN=$(SERVER_BIN) timeout 1200 ../../$(PY_TEST_VENV)/bin/python -m pytest -q -p no:cacheprovider .
	# The stubs (.pyi) against the installed package.
	cd bindings-python && ../$(PY_TEST_VENV)/bin/python -m mypy.stubtest reelgraph --allowlist stubtest-allowlist.txt --mypy-config-file stubtest-mypy.ini

docs: venv
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

docs-serve: venv
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs serve

# Criterion benches (about 12 minutes on 2 idle cores; benches/README.md
# names each). BENCH=core|persistence|exec|hub runs one file, FILTER one
# group or bench, BASELINE=name saves the run for scripts/bench-compare.
BENCH    ?=
FILTER   ?=
BASELINE ?=

bench:
	cargo bench -p reelgraph-benches $(if $(BENCH),--bench $(BENCH)) -- --noplot \
	  $(if $(BASELINE),--save-baseline $(BASELINE)) $(FILTER)

# The production canvas of the benches (10,000 nodes, 20,000 edges) as JSON
# ops and document, so the Python and Node benches read the canvas Rust builds.
BENCH_CANVAS := target/bench-canvas
bench-canvas:
	cargo run -q --release -p reelgraph-benches --bin export_canvas -- $(BENCH_CANVAS)

# reelgraph from Python against a plain-Python baseline (networkx, pydantic)
# and against the same work in Rust (benches/python/); not part of make test.
PY_BENCH_VENV := target/python-bench-venv
bench-python: bench-canvas python-wheel
	rm -rf $(PY_BENCH_VENV)
	$(PYTHON) -m venv $(PY_BENCH_VENV)
	$(PY_BENCH_VENV)/bin/python -m pip install --quiet --disable-pip-version-check \
	  -r benches/python/requirements.txt target/wheels/reelgraph-*.whl
	cargo run -q --release -p reelgraph-benches --bin rust_reference -- $(BENCH_CANVAS) > $(BENCH_CANVAS)/rust.json
	cd benches/python && ../../$(PY_BENCH_VENV)/bin/python bench.py --data ../../$(BENCH_CANVAS)

# The Node package (bindings-node/): dev tools from the committed lockfile,
# then one release build of the addon, reelgraph.node. napi also rewrites
# native.d.ts, the addon's typings, which node-test checks are committed.
NODE := bindings-node

$(NODE)/node_modules/.installed: $(NODE)/package-lock.json
	cd $(NODE) && npm ci --no-audit --no-fund
	touch $@

node-build: $(NODE)/node_modules/.installed
	cd $(NODE) && npx napi build --release --dts native.d.ts

# The version and the committed typings (native.d.ts from the build, types/
# from the core's schemas and error table), the typings (a TypeScript example
# compiled with --strict), the tests (node --test), then the package as a
# user gets it: npm pack, installed into an empty directory, required and imported.
node-test: node-build server-bin
	cd $(NODE) && node scripts/sync-version.mjs --check
	cd $(NODE) && node scripts/gen-types.mjs --check
	@git diff --quiet -- $(NODE)/native.d.ts \
	  || { git diff -- $(NODE)/native.d.ts; echo "bindings-node/native.d.ts changed in the build: commit it"; exit 1; }
	cd $(NODE) && npx tsc --noEmit --strict -p test/types
	cd $(NODE) && REELGRAPH_BIN=$(SERVER_BIN) node --test --test-reporter=spec test/
	@tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	(cd $(NODE) && npm pack --silent --pack-destination "$$tmp" >/dev/null); \
	mkdir "$$tmp/app" && cd "$$tmp/app" && npm init -y >/dev/null \
	  && npm install --no-audit --no-fund --silent "$$tmp"/reelgraph-*.tgz \
	  && node -e "const r = require('reelgraph'); if (new r.Canvas('c', 'C').revision !== 0) process.exit(1)" \
	  && node --input-type=module -e "import { Canvas } from 'reelgraph'; if (new Canvas('c', 'C').revision !== 0) process.exit(1)" \
	  && echo "npm pack: the tarball installs, and require and import load it"

# The Node benches (not part of make test): the production canvas through the
# package against a graphology + zod baseline (installed only in
# benches/node/) and against the same work in Rust (rust_reference).
bench-node: bench-canvas node-build
	cargo build -q --release -p reelgraph-benches --bin rust_reference
	cd benches/node && npm ci --no-audit --no-fund
	node benches/node/bench.mjs $(BENCH_CANVAS)

clean:
	cargo clean
	rm -rf site out reelgraph-data $(VENV) $(PY_VENV) $(ST_VENV) $(NODE)/node_modules $(NODE)/reelgraph.node
