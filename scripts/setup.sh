#!/usr/bin/env bash
# Create .venv and install neulora with everything the main job and the tests need (CPU only, offline-capable).
set -euo pipefail
cd "$(dirname "$0")/.."
# System packages the tests use (Chromium, redis-server, a CJK font): installed when this runs as root; otherwise
# the script says what is missing and how to install it, the set-up goes on, and those tests are skipped (CI fails
# them instead: it runs as root and must prove them).
bash scripts/system_packages.sh || echo "setup: continuing without those system packages: the tests that need them will be skipped (run 'sudo bash scripts/system_packages.sh' to install them)" >&2
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
# The CPU build of torch; a plain 'torch' requirement would pull a multi-GB CUDA build.
.venv/bin/python -m pip install --quiet torch==2.13.0
# llama.cpp (the test engine) is built from source with a fixed instruction-set baseline, never -march=native:
# a native build on a CPU that reports AMX emits AMX tile instructions that a virtual machine may not allow,
# and the server dies with a general protection fault on its first completion.
bash scripts/build_llama_cpp.sh .venv
.venv/bin/python -m pip install --quiet -e '.[dev]'
bash scripts/build_llama_cpp.sh --verify .venv
