# The two commands a fresh clone needs: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)

.PHONY: install test lint demo bench fuzz clean interop-tools

$(BIN)/python:
	$(PY) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	rm -f $(VENV)/.installed-*
	touch $@

install: $(STAMP)

lint: install
	$(BIN)/ruff check gateway tests bench
	$(BIN)/ruff format --check gateway tests bench
	$(BIN)/mypy

# Independent implementations the tests compare with (xmllint, xmlsec1); installed when possible.
interop-tools:
	@command -v xmllint >/dev/null && command -v xmlsec1 >/dev/null || { \
	  [ "$$(id -u)" = 0 ] && apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libxml2-utils xmlsec1 >/dev/null; } || \
	  echo "note: install libxml2-utils and xmlsec1 to run the interoperability tests"

test: lint interop-tools
	$(BIN)/pytest

demo: install
	rm -rf build/demo build/demo-fhir build/demo-rejected build/pki build/conformance
	@echo "== translate the sample practice records (examples/records) to MedCom XML =="
	$(BIN)/labgw translate examples/records -o build/demo
	@echo "== validate the messages it wrote =="
	$(BIN)/labgw validate build/demo/messages
	@echo "== the same records as FHIR messages, checked against the XML letter by letter =="
	$(BIN)/labgw translate examples/records --format fhir --check -o build/demo-fhir
	$(BIN)/labgw validate build/demo-fhir/messages
	@echo "== a test PKI, then one letter signed in a DGWS envelope and verified =="
	$(BIN)/labgw certs init build/pki
	LABGW_PKCS12_PASSWORD=Test1234 $(BIN)/labgw sign $$(ls build/demo/messages/lsp-*.xml | head -1) --cert build/pki/practice-platform.p12 -o build/demo/signed-envelope.xml
	$(BIN)/labgw verify build/demo/signed-envelope.xml --trust build/pki/trust.pem --crl build/pki/crl.pem
	@echo "== what a Health Hub extract holds and what would be shared =="
	$(BIN)/labgw analyze examples/records/healthhub-extract.csv --html build/demo/analysis.html
	@echo "== the whole chain on loopback: LSP and MiBa receivers, the gateway, a practice system =="
	$(BIN)/labgw demo --workdir build/demo-live
	@echo "== the audit trail of a record the practice corrected once (no CPR in it) =="
	$(BIN)/labgw history XMO-7f3a9c21 --config build/demo-live/labgw.toml
	@echo "== the conformance suites against labgw itself: JUnit, HTML and an evidence bundle =="
	$(BIN)/labgw conformance run all --target self --junit build/conformance/report.junit.xml --html build/conformance/report.html --evidence build/conformance/evidence
	@echo "== the same suite against a vendor's folder with four broken letters (exit 1 expected) =="
	-$(BIN)/labgw conformance run lsp-xrpt01 --target tests/data/vendor-broken
	@echo "== records with mistakes are rejected with the field and the rule (exit 1 expected) =="
	-$(BIN)/labgw translate examples/rejected -o build/demo-rejected

bench: install
	$(BIN)/python bench/translate.py

# Fuzz every target (tests/fuzz/targets.py) for FUZZ_SECONDS each; atheris when it is installed.
FUZZ_SECONDS ?= 60
fuzz: install
	$(BIN)/python -m tests.fuzz.run --seconds $(FUZZ_SECONDS)

clean:
	rm -rf build out .pytest_cache .mypy_cache .ruff_cache
