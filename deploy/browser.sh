#!/usr/bin/env bash
# Installs what the browser tests need, idempotently, outside the repository:
#  - Debian's Chromium at /usr/bin/chromium (Playwright's own browser download cannot work here);
#  - axe-core from the npm registry, cached in ~/.cache/sportello/axe/ (axe.min.js).
set -euo pipefail

AXE_VERSION="${AXE_VERSION:-4.10.3}"
CACHE_DIR="${SPORTELLO_CACHE:-$HOME/.cache/sportello}"
AXE_DIR="$CACHE_DIR/axe"

if [ ! -x /usr/bin/chromium ]; then
  SUDO=""
  if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
  # Update the package lists only when they do not know chromium yet.
  if ! apt-cache show chromium >/dev/null 2>&1; then
    $SUDO apt-get update -qq
  fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi

if [ ! -f "$AXE_DIR/axe.min.js" ]; then
  mkdir -p "$AXE_DIR"
  tmp="$(mktemp -d)"
  (cd "$tmp" && npm pack --silent "axe-core@$AXE_VERSION" >/dev/null)
  tar -xzf "$tmp"/axe-core-*.tgz -C "$tmp"
  cp "$tmp/package/axe.min.js" "$AXE_DIR/axe.min.js"
  rm -rf "$tmp"
fi

echo "chromium: $(/usr/bin/chromium --version 2>/dev/null || echo missing)"
echo "axe-core: $AXE_DIR/axe.min.js"
