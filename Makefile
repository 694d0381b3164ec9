# `make run` and `make test` work on a fresh clone: they install what they need first.
VENV      := .venv
BIN       := $(VENV)/bin
PYTHON    ?= python3
STAMP     := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | sha256sum | cut -c1-12)
NODE_STAMP := node_modules/.installed-$(shell cat package-lock.json | sha256sum | cut -c1-12)
# The modeler page's script and styles, bundled from webui/modeler-src and node_modules; never committed.
MODELER   := webui/static/build/modeler.js

.PHONY: run test setup system-deps lint bench bench-deadlines bench-faults bench-replay bench-documents bench-sendback clean

run: setup
	$(BIN)/bianmin load-demo
	$(BIN)/bianmin serve --host 127.0.0.1 --port 5000

test: setup system-deps
	$(BIN)/ruff check .
	$(BIN)/pytest -q

setup: $(STAMP) $(NODE_STAMP) $(MODELER)

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -r requirements.lock
	$(BIN)/pip install -q --no-deps -e .
	rm -f $(VENV)/.installed-* && touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	rm -f node_modules/.installed-* && touch $@

$(MODELER): $(NODE_STAMP) $(wildcard webui/modeler-src/*)
	node_modules/.bin/esbuild webui/modeler-src/index.js --bundle --minify --sourcemap --format=iife \
		--target=es2020 --outfile=$@ --loader:.woff=file --loader:.woff2=file --loader:.ttf=file \
		--loader:.eot=file --loader:.svg=file --log-level=warning

# Browser tests drive Debian's chromium; Chinese text needs a CJK font in screenshots; pdftotext reads printed PDFs;
# WeasyPrint lays out the documents' PDFs with pango.
system-deps:
	@if ! command -v chromium >/dev/null || ! fc-list 2>/dev/null | grep -qi "Noto Sans CJK" \
			|| ! command -v pdftotext >/dev/null || ! ldconfig -p | grep -q libpangoft2-1.0; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk \
			poppler-utils libpango-1.0-0 libpangoft2-1.0-0; \
	fi

lint: setup
	$(BIN)/ruff check .

bench: setup
	$(BIN)/python bench/engine.py

# About a minute: a database of its own on the PostgreSQL server, 100,000 then 1,000,000 open deadlines, one tick each.
bench-deadlines: setup
	$(BIN)/python bench/deadlines.py

# Minutes: its own PostgreSQL cluster filled to 1,000,000 cases, then load and faults (see bench/faults.py).
bench-faults: setup
	$(BIN)/python bench/faults.py $(BENCH_FAULTS_ARGS)

# Seconds: each kind of document rendered to HTML and to PDF (WeasyPrint) twenty times, on a throw-away SQLite.
bench-documents: setup system-deps
	$(BIN)/python bench/documents.py

# Seconds: a database of its own on the PostgreSQL server, one 宅基地 case of 500 events replayed at each of them.
bench-replay: setup
	$(BIN)/python bench/replay.py

# Under a minute: one case sent back 1,000 times on SQLite and on the PostgreSQL server; size and times per 100.
bench-sendback: setup
	$(BIN)/python bench/sendback.py

clean:
	rm -rf $(VENV) node_modules var test-artifacts webui/static/build
