#!/usr/bin/env bash
# Installs the Debian packages the tests and the conformance suite need, when they are missing.
# Safe to run again: it installs only what is absent. Needs root (apt-get).
set -euo pipefail

# Tool the tests run -> the Debian package that ships it.
declare -A PKG=(
  [iptables]=iptables
  [iptables-legacy]=iptables
  [ipset]=ipset
  [nft]=nftables
  [dig]=bind9-dnsutils
  [curl]=curl
  [jq]=jq
  [conntrack]=conntrack
  [ip]=iproute2
  [debootstrap]=debootstrap
  [shellcheck]=shellcheck
  [patch]=patch
)

missing=()
for tool in "${!PKG[@]}"; do
  if ! command -v "$tool" >/dev/null 2>&1 && ! [[ -x "/usr/sbin/$tool" || -x "/sbin/$tool" ]]; then
    missing+=("${PKG[$tool]}")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "setup-system: every system package is present"
  exit 0
fi

# Deduplicate and sort the package list.
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
if [[ $(id -u) -ne 0 ]]; then
  echo "setup-system: missing packages: ${missing[*]}; run as root (sudo $0) to install them" >&2
  exit 1
fi
echo "setup-system: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
