#!/usr/bin/env bash
# Builds llama.cpp's own benchmark, `llama-bench`, from the very llama.cpp source Fathom links
# (llama-cpp-sys-2's vendored copy) with the flags its build script uses (Release, OpenMP, ggml's
# x86-64-v3 kernels from .cargo/config.toml), so that `fathom bench --llama-bench BIN` sets
# Fathom's llama.cpp backend beside llama.cpp alone on the same GGUF and the same kernels.
#
#     tests/bench/build_llama_bench.sh OUT_DIR      # then OUT_DIR/bin/llama-bench
#
# The crate leaves the tools' sources out. The only reachable copy of them is llama-cpp-python's
# source distribution on PyPI, which vendors a llama.cpp of the same month; only llama-bench's two
# files are taken from it, and built against the crate's library and `common`.
set -euo pipefail

out=${1:?usage: build_llama_bench.sh OUT_DIR}
mkdir -p "$out"
out=$(cd "$out" && pwd)
root=$(cd "$(dirname "$0")/../.." && pwd)
python=${PYTHON:-python3}
# The llama-cpp-python release whose llama.cpp is closest to llama-cpp-sys-2 0.1.161's.
sdist_version=0.3.36

crate=$(cargo metadata -q --format-version 1 --manifest-path "$root/Cargo.toml" |
    "$python" -c 'import json, sys, os
m = json.load(sys.stdin)
print(os.path.dirname(next(p["manifest_path"] for p in m["packages"] if p["name"] == "llama-cpp-sys-2")))')
[ -d "$crate/llama.cpp/ggml" ] || { echo "no vendored llama.cpp in $crate" >&2; exit 1; }

if [ ! -f "$out/sdist/llama-bench/llama-bench.cpp" ]; then
    "$python" -m pip download --quiet --no-deps --no-binary :all: \
        "llama-cpp-python==$sdist_version" -d "$out/download"
    mkdir -p "$out/sdist"
    tar -xzf "$out/download/llama_cpp_python-$sdist_version.tar.gz" -C "$out/sdist" \
        --strip-components=4 "llama_cpp_python-$sdist_version/vendor/llama.cpp/tools/llama-bench"
fi

# A copy of the crate's tree whose tools folder holds llama-bench alone.
rm -rf "$out/src"
cp -r "$crate/llama.cpp" "$out/src"
rm -rf "$out/src/tools"
mkdir -p "$out/src/tools"
cp -r "$out/sdist/llama-bench" "$out/src/tools/llama-bench"
echo 'add_subdirectory(llama-bench)' > "$out/src/tools/CMakeLists.txt"

cmake -S "$out/src" -B "$out/build" -DCMAKE_BUILD_TYPE=Release \
    -DBUILD_SHARED_LIBS=OFF -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF \
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF \
    -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_APP=OFF -DLLAMA_BUILD_COMMON=ON \
    -DGGML_NATIVE=OFF -DGGML_OPENMP=ON -DGGML_BLAS=OFF \
    -DGGML_SSE42=ON -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON \
    > "$out/configure.log"
cmake --build "$out/build" --target llama-bench -j "$(nproc)" > "$out/build.log"
mkdir -p "$out/bin"
cp "$out/build/bin/llama-bench" "$out/bin/llama-bench"
echo "$out/bin/llama-bench"
