#!/usr/bin/env bash
# One node probing 64 peers × 5 ports (control 10001, fabric 31416-31419: 2 targets,
# no helper, 2 + 2 + 0 = 4 CaRT context ports) on real
# network namespaces (198.51.100.0/24), 8 of the peers dropping every packet (nft),
# so the timeout cases bound the run. Prints the wall time against 2 × the timeout.
# Needs root, ip, nft (.ci/probe-deps.sh). BIN= selects the binary.
set -euo pipefail
BIN=${BIN:-target/debug/daos-preflight}
BIN=$(readlink -f "$BIN")
N=${N:-64}
TIMEOUT_MS=${TIMEOUT_MS:-1000}
tag=dpb$$
cfg=$(mktemp)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for i in $(seq 0 "$N"); do ip netns del "${tag}n$i" 2>/dev/null || true; done
  ip netns del "${tag}br" 2>/dev/null || true
  rm -f "$cfg"
}
trap cleanup EXIT
cat >"$cfg" <<YML
name: daos_server
port: 10001
access_points: ['198.51.100.1']
provider: ofi+tcp
engines:
- targets: 2
  fabric_iface: eth0
  fabric_iface_port: 31416
  storage:
  - class: ram
    scm_mount: /mnt/daos
YML
ip netns add "${tag}br"
ip -n "${tag}br" link add br0 type bridge
ip -n "${tag}br" link set br0 up
peers=()
for i in $(seq 0 "$N"); do
  n=${tag}n$i
  ip netns add "$n"
  ip link add "v$n" type veth peer name eth0 netns "$n"
  ip link set "v$n" netns "${tag}br"
  ip -n "${tag}br" link set "v$n" master br0 up
  ip -n "$n" addr add "198.51.100.$((i + 1))/24" dev eth0
  ip -n "$n" link set eth0 up
  ip -n "$n" link set lo up
  if [ "$i" -gt 0 ]; then
    peers+=("198.51.100.$((i + 1))")
    ip netns exec "$n" "$BIN" probe serve --duration 120 --server-config "$cfg" 2>/dev/null &
    pids+=($!)
    if [ $((i % 8)) -eq 0 ]; then
      ip netns exec "$n" nft add table inet b
      ip netns exec "$n" nft add chain inet b in '{ type filter hook input priority 0; }'
      ip netns exec "$n" nft add rule inet b in tcp dport '{10001,31416-31419}' drop
    fi
  fi
done
sleep 2
start=$(date +%s%N)
ip netns exec "${tag}n0" "$BIN" probe "${peers[@]}" --server-config "$cfg" \
  --timeout-ms "$TIMEOUT_MS" --format json >/tmp/probe-bench.json || true
end=$(date +%s%N)
ms=$(((end - start) / 1000000))
python3 - "$ms" "$TIMEOUT_MS" <<'PY'
import json, sys, collections
r = json.load(open("/tmp/probe-bench.json"))
c = collections.Counter(x["status"] for x in r["results"])
ms, t = int(sys.argv[1]), int(sys.argv[2])
print(f"{len(r['results'])} paths {dict(c)}: {ms} ms wall (report duration_ms {r['duration_ms']}), "
      f"timeout {t} ms, bound 2x = {2*t} ms: {'within' if ms <= 2*t else 'OVER'}")
PY
