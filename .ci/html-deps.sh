#!/usr/bin/env bash
# Installs Debian's chromium for tests/fleet_html.rs (renders `fleet --format html`
# headless: --dump-dom and --screenshot). Idempotent. Called by .ci/run.
set -euo pipefail
if ! command -v chromium >/dev/null 2>&1; then
  sudo=; [ "$(id -u)" -ne 0 ] && sudo=sudo
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends chromium
fi
chromium --version
