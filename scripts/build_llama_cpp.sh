#!/usr/bin/env bash
# Build and install a portable llama-cpp-python into a venv, or verify the one installed there.
#
#   bash scripts/build_llama_cpp.sh VENV            build (or reuse a wheel built with the same flags), install
#   bash scripts/build_llama_cpp.sh --verify VENV   fail unless the installed build holds no AMX/AVX-512 code
#
# Baseline: x86-64-v3 (SSE4.2, AVX, AVX2, FMA, F16C, BMI2), what every x86-64 server CPU of the last ten years
# has. AVX-512, AVX-VNNI and AMX stay off: not every machine has them, and AMX tiles may be refused by the
# hypervisor even where the CPU reports them. A CPU without AVX2 gets the x86-64-v2 baseline (SSE4.2 only).
# Wheels are kept under a directory named after the version and a hash of the flags, so a wheel built with
# other flags (pip's own cache keys wheels by source only) is never reused; pip's cache is bypassed for it.
set -euo pipefail

LLAMA_CPP_VERSION=0.3.36
# AMX tile instructions; AVX-512 registers: zmm, the upper xmm/ymm16-31 (AVX-512VL) and the mask registers
FORBIDDEN='ldtilecfg|tileloadd|tdpb|%zmm|%[xy]mm(1[6-9]|2[0-9]|3[01])|%k[0-7]\b'

verify() {
  command -v objdump >/dev/null || { echo "llama.cpp check FAILED: objdump (binutils) is missing" >&2; exit 1; }
  local lib
  lib=$("$1/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["platlib"])')/llama_cpp/lib
  if ! ls "$lib"/libggml*.so >/dev/null 2>&1; then
    echo "llama.cpp check FAILED: no llama.cpp libraries in $lib" >&2
    exit 1
  fi
  local count=0 so n asm
  for so in "$lib"/libggml*.so "$lib"/libllama*.so; do
    [ -e "$so" ] || continue
    asm=$(mktemp)
    objdump -d --no-show-raw-insn "$so" > "$asm" || { echo "llama.cpp check FAILED: objdump $so" >&2; exit 1; }
    n=$(grep -c -E "$FORBIDDEN" "$asm" || true)
    rm -f "$asm"
    echo "llama.cpp check: $(basename "$so"): $n AMX/AVX-512 instructions"
    count=$((count + n))
  done
  if [ "$count" -ne 0 ]; then
    echo "llama.cpp check FAILED: the installed build is not portable (rebuild: rm -rf $(wheel_dir))" >&2
    exit 1
  fi
}

baseline_flags() {
  local flags="-DGGML_NATIVE=OFF -DGGML_SSE42=ON"
  if grep -m1 '^flags' /proc/cpuinfo | grep -qw avx2 && grep -m1 '^flags' /proc/cpuinfo | grep -qw fma \
     && grep -m1 '^flags' /proc/cpuinfo | grep -qw f16c && grep -m1 '^flags' /proc/cpuinfo | grep -qw bmi2; then
    flags="$flags -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON"
  else
    flags="$flags -DGGML_AVX=OFF -DGGML_AVX2=OFF -DGGML_FMA=OFF -DGGML_F16C=OFF -DGGML_BMI2=OFF"
  fi
  flags="$flags -DGGML_AVX_VNNI=OFF -DGGML_AVX512=OFF -DGGML_AVX512_VBMI=OFF -DGGML_AVX512_VNNI=OFF"
  flags="$flags -DGGML_AVX512_BF16=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF"
  echo "$flags"
}

wheel_dir() {
  local key
  key=$(printf '%s %s' "$LLAMA_CPP_VERSION" "$(baseline_flags)" | sha256sum | cut -c1-16)
  echo "${XDG_CACHE_HOME:-$HOME/.cache}/neulora/llama-cpp-python/$LLAMA_CPP_VERSION-$key"
}

if [ "${1:-}" = "--verify" ]; then
  verify "$2"
  exit 0
fi

venv=$1
flags=$(baseline_flags)
dir=$(wheel_dir)
echo "llama.cpp build: llama-cpp-python $LLAMA_CPP_VERSION, CMAKE_ARGS=$flags"
if ! ls "$dir"/llama_cpp_python-*.whl >/dev/null 2>&1; then
  echo "llama.cpp build: compiling into $dir (a few minutes)"
  rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
  CMAKE_ARGS="$flags" "$venv/bin/python" -m pip wheel --quiet --no-deps --no-cache-dir \
    --no-binary llama-cpp-python -w "$dir.tmp" "llama-cpp-python==$LLAMA_CPP_VERSION"
  rm -rf "$dir" && mv "$dir.tmp" "$dir"
else
  echo "llama.cpp build: reusing $dir"
fi
"$venv/bin/python" -m pip install --quiet --no-deps --force-reinstall "$dir"/llama_cpp_python-*.whl
verify "$venv"
