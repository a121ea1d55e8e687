#!/usr/bin/env bash
# Creates bench/peers/.venv (Python 3.11, git-ignored) with semantic-router and langchain-chroma pinned by
# requirements.txt, and neulora from this repo (editable, no extras), so that one process imports all three.
# Re-running it recreates the venv from scratch.
#   PYTHON=/path/to/python3.11   another interpreter
#   VENV=/tmp/peers-sr0 SEMANTIC_ROUTER=0.3.3   a second venv with semantic-router's 0.x API (SemanticRouter)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
python="${PYTHON:-python3.11}"
venv="${VENV:-$here/.venv}"

"$python" -c 'import sys; assert sys.version_info[:2] == (3, 11), sys.version' \
    || { echo "setup.sh: needs Python 3.11 (set PYTHON=...)" >&2; exit 1; }
if [ -e "$venv" ]; then
    [ -f "$venv/pyvenv.cfg" ] || { echo "setup.sh: $venv exists and is not a venv; not touching it" >&2; exit 1; }
    rm -rf "$venv"
fi
"$python" -m venv "$venv"
pip=("$venv/bin/python" -m pip --disable-pip-version-check)
"${pip[@]}" install --quiet -r "$here/requirements.txt"
if [ -n "${SEMANTIC_ROUTER:-}" ]; then
    "${pip[@]}" install --quiet "semantic-router==$SEMANTIC_ROUTER"
fi
# neulora's own dependencies are all pinned above; --no-deps keeps pip from re-resolving them.
"${pip[@]}" install --quiet --no-deps -e "$repo"
"${pip[@]}" check
if "${pip[@]}" show torch >/dev/null 2>&1; then
    echo "setup.sh: torch got installed; pin torch==2.13.0 (the CPU wheel) first in requirements.txt" >&2
    exit 1
fi
"$venv/bin/python" -c 'import semantic_router, langchain_chroma, neulora; print("ok: semantic-router", semantic_router.__version__)'
echo "run: $venv/bin/python $here/bench_peers.py"
