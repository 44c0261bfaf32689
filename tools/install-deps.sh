#!/usr/bin/env bash
# Installs the build and test dependencies from Debian's packages (needs root; a no-op for what is
# already there). CUDA (nvcc) is optional and not installed here.
set -euo pipefail
pkgs=(cmake ninja-build g++ pkg-config libyaml-cpp-dev nlohmann-json3-dev libcli11-dev libgtest-dev libgmock-dev
      libomp-dev libicu-dev openmpi-bin libopenmpi-dev fortunes)
missing=()
for p in "${pkgs[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" != 0 ]; then
  echo "missing packages: ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
