#!/usr/bin/env bash
# Installs what the monitoring and fleet tests (tests/fleet.rs, tests/fleet_tools.rs,
# tests/daos_section.rs) and benches/fleet.sh
# need: promtool (Debian `prometheus`), a real node_exporter for the textfile collector
# test, jq and hyperfine for the benchmark, and Python's jsonschema as the independent
# JSON Schema validator. Idempotent: installs only what is missing. Called by .ci/run.
set -euo pipefail

packages=(
  prometheus               # /usr/bin/promtool: `promtool check metrics`
  prometheus-node-exporter # the textfile collector scraping check --textfile output
  jq                       # benches/fleet.sh: the jq -s grouping we compare against
  hyperfine                # benches/fleet.sh timing
  python3-jsonschema       # draft 2020-12 validator for the published schemas
  clustershell             # tests/fleet_tools.rs: clush -R exec, nodeset -f (the folding oracle)
  pdsh                     # tests/fleet_tools.rs: pdsh -R exec
  iproute2                 # tests/daos_section.rs: `ip -o addr`, the oracle of host.addresses
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  if [ "$(id -u)" -ne 0 ]; then
    sudo=sudo
  else
    sudo=
  fi
  $sudo apt-get update -q
  # the packaged exporter must not start a system service on the CI machine
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
  if command -v systemctl >/dev/null 2>&1; then
    $sudo systemctl disable --now prometheus prometheus-node-exporter >/dev/null 2>&1 || true
  fi
fi

# The `python3` first on PATH may not be Debian's (pyenv, a venv): give it jsonschema
# from PyPI when the Debian package is not visible to it.
if ! python3 -c 'import jsonschema' 2>/dev/null; then
  python3 -m pip install --quiet jsonschema ||
    python3 -m pip install --quiet --break-system-packages jsonschema
fi

# Report what the tests will use (a missing piece fails loudly here).
# (sed reads all input: `head` would close the pipe early and, with pipefail, a
# SIGPIPE in the writer would abort the script)
promtool --version 2>&1 | sed -n 1p
prometheus-node-exporter --version 2>&1 | sed -n 1p
python3 -c 'import importlib.metadata as m; print("python jsonschema", m.version("jsonschema"))'
jq --version
ip -V
clush --version
nodeset --version
pdsh -V 2>&1 | sed -n 1p
