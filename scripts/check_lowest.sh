#!/usr/bin/env bash
# Run the tests of the Hugging Face edge against the lowest huggingface_hub and httpx2 that setup.cfg allows,
# installed beside the venv's newer ones (PYTHONPATH puts them first): cheap, and it catches an API we use
# that the lowest allowed release lacks.
set -euo pipefail
cd "$(dirname "$0")/.."
low=$(mktemp -d)
trap 'rm -rf "$low"' EXIT
hub=$(sed -n 's/^ *huggingface_hub>=\([0-9.]*\).*/\1/p' setup.cfg)
httpx2=$(sed -n 's/^ *httpx2>=\([0-9.]*\).*/\1/p' setup.cfg)
.venv/bin/python -m pip install --quiet --no-deps --target "$low" "huggingface_hub==$hub" "httpx2==$httpx2"
PYTHONPATH="$low" .venv/bin/python -c \
  "import huggingface_hub, httpx2; print('lowest allowed: huggingface_hub', huggingface_hub.__version__, 'httpx2', httpx2.__version__)"
PYTHONPATH="$low" .venv/bin/python -m pytest -q -p no:cacheprovider tests/unit/hf/test_hf_edge.py \
  tests/unit/test_llm.py tests/unit/embedders/test_embedders.py tests/adversarial/test_remote_faults.py
