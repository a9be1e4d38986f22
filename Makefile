# Two commands do all set-up on a fresh machine:
#   make demo   - installs into .venv, renders the embedded synthetic data, trains both recipes, evaluates them
#   make test   - installs into .venv (with test extras) and runs the whole test suite (what CI runs)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# Re-install whenever the dependency pins change.
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt 2>/dev/null | cksum | cut -d' ' -f1)

.PHONY: install demo test test-fast test-slow bench mlflow-ui clean

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

demo: install
	$(BIN)/python -m reidfw.demo

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

clean:
	rm -rf outputs multirun .cache
