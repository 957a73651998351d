# Two commands on a fresh machine: `make run` and `make test`. Both install what is
# missing, build the knowledge base and train only when something changed.
SHELL := /bin/bash
PY := .venv/bin/python
LOCK_ID := $(shell cat requirements/lock.txt requirements/rasa.txt | sha256sum | cut -c1-16)
STAMP := .venv/.installed-$(LOCK_ID)
export TF_CPP_MIN_LOG_LEVEL ?= 2
export PYTHONWARNINGS ?= ignore::DeprecationWarning
# No usage data leaves the machine (Rasa's telemetry is on unless switched off).
export RASA_TELEMETRY_ENABLED ?= false
export PYTHONPATH := $(CURDIR)

GINZA_STAMP := .venv/.ginza-$(shell sha256sum requirements/ginza.txt | cut -c1-16)
BENCH_STAMP := .venv-bench/.installed-$(shell sha256sum requirements/bench.txt | cut -c1-16)
WEB_STAMP := bot/web/node_modules/.installed-$(shell sha256sum bot/web/package-lock.json | cut -c1-16)

.PHONY: run test eval bench report install kb model browser staff-account

run: model
	$(PY) -m bot.launcher

test: model browser
	$(PY) -m pytest -q -p no:cacheprovider tests
	$(PY) -m rasa data validate --fail-on-warnings --domain domain.yml --data data
	$(PY) -m rasa test core --model models/current.tar.gz --stories tests/conversations \
		--fail-on-prediction-errors --out var/test-results

# A staff account for the assist tool at /staff/ (asks for the password twice).
staff-account: install
	@test -n "$(ACCOUNT)" || { echo "usage: make staff-account ACCOUNT=name"; exit 2; }
	$(PY) -m bot.staff.accounts add "$(ACCOUNT)"

eval: kb
	$(PY) -m bot.build eval

# Where the knowledge is thin: per procedure its entries, sources, oldest check, unknowns.
report: install
	$(PY) -m knowledge.report

# Benchmarks (not part of `make test`): `make bench`, or one: `make bench BENCH=soak`.
bench: model $(BENCH_STAMP) $(GINZA_STAMP)
	$(PY) -m bench.run $(BENCH)

# spaCy and GiNZA, only for the pipeline comparison; added beside Rasa, nothing replaced.
$(GINZA_STAMP): requirements/ginza.txt $(STAMP)
	$(PY) -m pip install -q --no-deps -r requirements/ginza.txt
	rm -f .venv/.ginza-*
	touch $@

# locust lives in its own venv: its gevent/Flask pins do not belong beside Rasa.
$(BENCH_STAMP): requirements/bench.txt
	@test -x .venv-bench/bin/python || python3 -m venv .venv-bench
	.venv-bench/bin/python -m pip install -q --no-deps -r requirements/bench.txt
	rm -f .venv-bench/.installed-*
	touch $@

install: $(STAMP) $(WEB_STAMP)

# The widget's browser libraries, served by the web app (no CDN at run time).
$(WEB_STAMP): bot/web/package-lock.json
	cd bot/web && npm ci --no-audit --no-fund --silent
	touch $@

# Debian's Chromium for the browser tests (Playwright drives it; no browser download).
browser:
	@command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium fonts-noto-cjk; }

# Rasa 3.6.21 and rasa-sdk 3.6.2 declare Python <3.11 but run on 3.11: install the
# pinned lock without resolving, then those two with the version check off.
$(STAMP): requirements/lock.txt requirements/rasa.txt
	@test -x $(PY) || python3 -m venv .venv
	$(PY) -m pip install -q --upgrade "pip==25.3"
	$(PY) -m pip install -q --no-deps -r requirements/lock.txt
	$(PY) -m pip install -q --no-deps --ignore-requires-python -r requirements/rasa.txt
	rm -f .venv/.installed-*
	touch $@

kb: install
	$(PY) -m bot.build kb

model: kb
	$(PY) -m bot.build model

