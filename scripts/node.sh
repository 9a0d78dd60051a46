#!/usr/bin/env bash
# Node.js and npm to build the console headset's JavaScript, from Debian when missing.
set -euo pipefail
command -v npm >/dev/null && command -v node >/dev/null && exit 0
echo "installing Debian packages: nodejs npm"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends nodejs npm
