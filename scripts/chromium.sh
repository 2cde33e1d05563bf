#!/usr/bin/env bash
# Installs Debian's chromium for the monitor's browser test when it is missing.
# playwright-core drives it; Playwright's own browser download needs the internet,
# which CI does not have, while Debian's package comes from the distribution mirror.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then exit 0; fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
  echo "chromium.sh: /usr/bin/chromium is missing; install Debian's chromium package (apt-get install chromium) to run the monitor's browser test" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium >/dev/null
