#!/usr/bin/env bash
# Installs what Shoal's tests need when it is missing: ffmpeg/ffprobe,
# Chromium (headless browser tests), PostgreSQL (store tests) and nginx with
# the RTMP module (the fan-out benchmark's peer). Uses Debian's packages and
# needs root (or sudo) only when something is missing.
set -euo pipefail

need=()
command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null || need+=(ffmpeg)
command -v chromium >/dev/null || need+=(chromium)
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need+=(postgresql)
[ -e /usr/share/nginx/modules-available/mod-rtmp.conf ] || [ -e /usr/lib/nginx/modules/ngx_rtmp_module.so ] || need+=(nginx-light libnginx-mod-rtmp)

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
echo "test-deps: installing ${need[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "test-deps: need root to install ${need[*]}" >&2; exit 1; }
  sudo=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# nginx's package starts a service on port 80; the benchmark runs its own.
$sudo systemctl disable --now nginx >/dev/null 2>&1 || $sudo service nginx stop >/dev/null 2>&1 || true
