#!/usr/bin/env bash
# The main job: build duct-conform and grade an implementation against the
# Ductworks spec, over real Unix and TCP sockets, in both roles.
#
#   ci/conform.sh                         the reference testee (libduct)
#   ci/conform.sh --testee 'CMD'          anyone's testee (conformance/TESTEE.md)
#   ci/conform.sh --testee python         the shipped testees by name: libduct,
#                                         python (pyduct), ductworks (the original)
#
# Every other option goes to duct-conform as is (--cases, --strict,
# --junit FILE, --matrix BASE, ...: ci/conform.sh --help lists them).
# Cases run one per core (--jobs "$(nproc)", the timed ones alone after
# the others) unless --jobs is given; --jobs 1 runs them one at a time.
set -euo pipefail
cd "$(dirname "$0")/.."

ci/deps.sh cmake gcc g++ make pkg-config libcmocka-dev libjson-c-dev python3 >&2
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build/release -j"$(nproc 2>/dev/null || echo 2)" --target duct-conform duct-testee >/dev/null
jobs=(--jobs "$(nproc 2>/dev/null || echo 2)")
for a in "$@"; do
  if [ "$a" = --jobs ]; then jobs=(); fi
done
exec build/release/conformance/duct-conform ${jobs[@]+"${jobs[@]}"} "$@"
