# Two commands do all set-up on a fresh machine:
#   make demo   - installs into .venv, renders the embedded synthetic data, trains both recipes, evaluates them
#   make test   - installs into .venv (with test extras) and runs the whole test suite (what CI runs)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# Re-install whenever the dependency pins change.
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt 2>/dev/null | cksum | cut -d' ' -f1)

.PHONY: install system-deps demo test test-fast test-slow bench mlflow-ui mlflow-server clean

install: $(STAMP)

# constraints.txt pins the versions CI and every fresh machine get (torch + torchvision as the
# registry's matching pair: never a +cpu torch with the registry's torchvision).
$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -c constraints.txt -e ".[dev]"
	# TrackEval (HOTA; tests and benchmarks/tracking_quality.py) without its opencv-python/pycocotools requirements
	$(BIN)/python -m pip install --no-deps trackeval==1.3.0
	rm -f $(VENV)/.installed-*
	touch $@

# Debian packages the PostgreSQL-server and browser tests use (they skip, naming this target, without them).
system-deps:
	$(if $(filter 0,$(shell id -u)),,sudo) apt-get update -qq
	$(if $(filter 0,$(shell id -u)),,sudo) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql chromium chromium-driver

demo: install
	$(BIN)/python -m reidfw.demo $(if $(SYNTHETIC),--synthetic $(SYNTHETIC))

test: install
	$(BIN)/python -m pytest -q -m "not slow"
	$(BIN)/python -m pytest -q -m "slow"

test-fast: install
	$(BIN)/python -m pytest -q -m "not slow"

test-slow: install
	$(BIN)/python -m pytest -q -m "slow"

bench: install
	$(BIN)/python benchmarks/render_speed.py
	$(BIN)/python benchmarks/train_throughput.py
	$(BIN)/python benchmarks/eval_throughput.py
	$(BIN)/python benchmarks/retrieval_scale.py --scales market
	$(BIN)/python benchmarks/gpu_training.py

mlflow-ui: install
	$(BIN)/mlflow ui --backend-store-uri sqlite:///mlruns/mlflow.db --default-artifact-root ./mlruns/artifacts

# A team's server: PostgreSQL + mlflow server with basic auth on 127.0.0.1:5000 (README: "A shared MLflow server").
# Needs MLFLOW_AUTH_ADMIN_PASSWORD in the environment; MLFLOW_SERVER_ARGS="--host 0.0.0.0" to serve beyond this machine.
mlflow-server: install
	$(BIN)/python -m reidfw.mlflow_logging.shared_server --dir .mlflow-server $(MLFLOW_SERVER_ARGS)

clean:
	rm -rf outputs multirun .cache
