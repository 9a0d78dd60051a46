#!/usr/bin/env bash
# Install the Debian packages the product and its tests use, only those missing.
# Usage: scripts/system-packages.sh [demo|test]
set -euo pipefail
purpose=${1:-test}

# The demo's telephony: Kamailio (http_client is in the utils modules) as the SIP edge, sipp
# to place citizen calls, espeak-ng to speak the operator-ID prompt (工号播报); the console's
# browser headsets reach Kamailio over a WebSocket and rtpengine relays their media.
packages=(python3 python3-venv redis-server espeak-ng kamailio kamailio-utils-modules sip-tester)
packages+=(kamailio-websocket-modules rtpengine-daemon)
# A desk seat's sound card goes through PortAudio (`hotline seat --audio-device`).
packages+=(libportaudio2)
# The weekly brief: Pango and HarfBuzz for weasyprint's PDF, CJK fonts for it and the charts.
packages+=(libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-noto-cjk)
if [ "$purpose" = test ]; then
    # PostgreSQL for the second backend; chromium for the browser tests; Kamailio's tls module
    # and openssl (an internal CA made per test) for TLS between seats and the edge.
    packages+=(postgresql chromium kamailio-tls-modules openssl)
    # A sound server with null sinks stands in for an operator PC's sound card: the desk
    # seat's PortAudio reaches it through ALSA's pulse plugin.
    packages+=(pulseaudio libasound2-plugins)
fi

missing=()
for pkg in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
# A Python with venv may come from elsewhere (pyenv); then Debian's is not needed.
if command -v python3 >/dev/null && python3 -c 'import sys, venv; assert sys.version_info >= (3, 11)' 2>/dev/null; then
    missing=("${missing[@]/python3-venv}")
    missing=("${missing[@]/python3}")
fi
# Services already running (CI's PostgreSQL and Redis) need no package either.
if (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null; then missing=("${missing[@]/redis-server}"); fi
if (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; then missing=("${missing[@]/postgresql}"); fi

wanted=()
for pkg in "${missing[@]}"; do [ -n "$pkg" ] && wanted+=("$pkg"); done
if [ ${#wanted[@]} -eq 0 ]; then
    exit 0
fi
echo "installing Debian packages: ${wanted[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${wanted[@]}"
