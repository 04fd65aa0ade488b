#!/bin/sh
# run_bench.sh - make bench: forge the benchmark models once, print the table.
set -eu
cd "$(dirname "$0")/../.."
exec /usr/bin/python3 tests/bench/bench.py "$@"
