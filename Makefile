# Two commands on a fresh clone:  make demo   and   make test
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export DVC_NO_ANALYTICS := 1
export GX_ANALYTICS_ENABLED := false
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS := 120
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: venv demo test bench gpu-image-check clean-venv

venv: $(STAMP)

# torch first, by exact version, so pip takes the local CPU wheel where the machine has one.
$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "torch==$$(sed -n 's/^torch==//p' constraints.txt)"
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/foundry run demo

# test files run on TEST_WORKERS processes (pytest-xdist; a file's tests stay together on one worker, where its
# module fixtures live): many tests wait on subprocesses, servers and disk, and a second worker uses the core
# the first leaves idle (docs/architecture.md, "Tests"); the longest files start first (tests/conftest.py,
# LONGEST_FIRST). TEST_WORKERS=0 runs everything in one process.
TEST_WORKERS ?= 2
test: $(STAMP)
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder --durations=25

bench: $(STAMP)
	$(BIN)/python -m benchmarks

# model/ on the GPU machine's image before spending device time: a second venv with that image's Python,
# torch and transformers and nothing but model/'s other imports (no pipeline/, pydantic or Prefect) runs
# model/'s tests and gpu_check's smoke run (docs/pretraining.md, "GPU check"). ~5 GB: torch's CUDA wheel and
# its libraries, which import and run on a CPU; ~10 minutes on two cores. The test that runs prepare, then the
# smoke run, is left out: its prepare step needs pipeline/ (the two gpu_check commands here are that test).
IMAGE_PY ?= $(shell python3.12 -c 'import sys; print(sys.executable)' 2>/dev/null || echo $(PY))
IMAGE_PINS := torch==2.11.0 transformers==5.17.0
IMAGE_VENV := .venv-gpu-image
IMAGE_TESTS := tests/test_model.py tests/test_backbones.py tests/test_fastpath.py tests/test_gpu_paths.py \
	tests/test_distributed.py tests/test_electra_knobs.py
gpu-image-check: $(STAMP)
	test -x $(IMAGE_VENV)/bin/python || $(IMAGE_PY) -m venv $(IMAGE_VENV)
	$(IMAGE_VENV)/bin/python -m pip install -q $(IMAGE_PINS) numpy pyarrow safetensors pytest
	$(BIN)/python -m benchmarks.gpu_check prepare
	$(IMAGE_VENV)/bin/python -m benchmarks.gpu_check run --smoke --data .gpucheck --out $$(mktemp -d)
	$(IMAGE_VENV)/bin/python -m pytest -q -p no:cacheprovider $(IMAGE_TESTS) \
		--deselect tests/test_gpu_paths.py::test_gpu_check_prepare_then_smoke_run_without_pipeline

clean-venv:
	rm -rf $(VENV) $(IMAGE_VENV)
