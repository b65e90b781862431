#!/usr/bin/env bash
# Benchmark of `daos-preflight fleet` on 10,000 reports against the same per-check status
# grouping done by `jq -s` (benches/fleet-status.jq), side by side with hyperfine.
#
# The reports are varied copies of a real one (`check --format json` on the iommu-on
# fixture tree), written as JSON lines by benches/fleet-gen.py (seeded), each with the
# `daos` section of one generated DAOS system (128 servers, the rest clients), so the
# system rules run on all of them. Before timing,
# the two groupings are compared: the counts per check and status must be identical.
#
#   [BIN=path] [RUNS=5] bash benches/fleet.sh [N]   (default N=10000; needs hyperfine, jq, python3)
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-10000}"
work="${TMPDIR:-/tmp}/daos-preflight-fleet-bench"
mkdir -p "$work"

# BIN=target/x86_64-unknown-linux-musl/release/daos-preflight times the shipped build
if [ -z "${BIN:-}" ]; then
    cargo build --release --quiet
fi
bin="${BIN:-target/release/daos-preflight}"

"$bin" check --root tests/fixtures/iommu-on --format json >"$work/base.json" || true
input="$work/reports-$n.jsonl"
if [ ! -s "$input" ] || [ "$work/base.json" -nt "$input" ] || [ benches/fleet-gen.py -nt "$input" ]; then
    python3 benches/fleet-gen.py "$work/base.json" "$n" >"$input"
fi
echo "input: $input, $n reports, $(du -m "$input" | cut -f1) MB"

# the same answer first: counts per (check, status)
"$bin" fleet --format json "$input" >"$work/ours.json" || true # exit 1: some hosts fail
jq -S -c '[.checks[] | {id, counts: (.counts | with_entries(select(.value > 0)))}] | sort_by(.id)' \
    "$work/ours.json" >"$work/ours.counts"
jq -s -f benches/fleet-status.jq "$input" |
    jq -S -c '[.[] | {id, counts: (.statuses | map_values(.count))}] | sort_by(.id)' >"$work/jq.counts"
if ! cmp -s "$work/ours.counts" "$work/jq.counts"; then
    echo "MISMATCH between daos-preflight fleet and jq:" >&2
    diff <(jq . "$work/ours.counts") <(jq . "$work/jq.counts") | head -20 >&2
    exit 1
fi
echo "groupings agree ($(jq length "$work/ours.counts") checks)"
# the system section of the generated DAOS system: what it found (the generator plants a
# renamed system and agents pointing at a client on 0.5 % of the clients each)
jq -r '.system.findings[] | "  \(.id) \(.status): \(.summary | .[0:110])"' "$work/ours.json"

hyperfine --warmup 1 --runs "${RUNS:-5}" --export-json "$work/hyperfine.json" \
    -n "daos-preflight fleet" "$bin fleet --format json $input >/dev/null || true" \
    -n "jq -s grouping" "jq -s -f benches/fleet-status.jq $input >/dev/null"

if command -v /usr/bin/time >/dev/null 2>&1; then
    # wall time and peak RSS of one run, and RSS at a tenth of the input: memory grows
    # with the hosts kept (a small record each), not with the bytes read
    /usr/bin/time -v "$bin" fleet --format json "$input" 2>&1 >/dev/null |
        grep -E 'Elapsed|Maximum resident' | sed 's/^\t*/  fleet: /' || true # exit 1: some hosts fail
    head -n $((n / 10)) "$input" >"$work/tenth.jsonl"
    /usr/bin/time -v "$bin" fleet --format json "$work/tenth.jsonl" 2>&1 >/dev/null |
        grep -E 'Maximum resident' | sed "s/^\t*/  fleet on $((n / 10)) reports: /" || true
    for cmd in "$bin fleet --format json $input" "jq -s -f benches/fleet-status.jq $input"; do
        rss=$( { /usr/bin/time -f '%M' sh -c "$cmd >/dev/null" ; } 2>&1 | tail -n 1)
        echo "peak RSS $((rss / 1024)) MiB: ${cmd%% *} ${cmd#* }" | cut -c1-100
    done
fi
