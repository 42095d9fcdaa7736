#!/usr/bin/env bash
# Builds the Debian bookworm image the Docker tier of the conformance suite runs its containers
# from, without any image registry: debootstrap (minbase plus the firewall tools) into a
# temporary directory, then `docker import`. The image is tagged with a hash of its inputs
# (this script and the package list), so a present image is reused and a changed recipe builds
# a new one. The implementation under test is copied in at run time, never baked in.
#
# The Debian mirror is the one this machine's apt uses (deb822 .sources or sources.list), or
# FWT_DEBIAN_MIRROR when set: no mirror host is written here.
# Prints the image tag on stdout, and tags the same image fw-conformance-debian:latest (the
# suite's default --image). Needs root, debootstrap and a running Docker engine.
#
#   scripts/build-test-image.sh [--extra-packages PKG[,PKG...]] [--repo NAME]
#
# --extra-packages builds a second image on top of that one (built first when missing), the way
# a devcontainer's Dockerfile adds what its firewall script needs: `docker build FROM` the test
# image, `apt-get install` of the packages from the mirror the test image was bootstrapped from
# (the build's RUN step uses the machine's own network, `--network host`, as apt on the machine
# does). It is tagged NAME:<hash of the recipe> (NAME defaults to fw-conformance-debian-extra)
# and NAME:latest, and the hash tag is printed instead; the test image's tags are as without
# the option. Give it to the suite's --image to judge a script that needs those packages.
set -euo pipefail

readonly SUITE=bookworm
readonly REPO=fw-conformance-debian
readonly PACKAGES=iptables,ipset,nftables,dnsutils,curl,jq,ca-certificates,iproute2,conntrack,sudo,procps

log() { printf 'build-test-image: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

extra=""
extra_repo=$REPO-extra
while [[ $# -gt 0 ]]; do
    case $1 in
        --extra-packages)
            [[ $# -ge 2 ]] || die "--extra-packages needs a comma-separated package list"
            extra=$2
            shift 2
            ;;
        --repo)
            [[ $# -ge 2 ]] || die "--repo needs an image name"
            extra_repo=$2
            shift 2
            ;;
        *) die "unknown argument: $1 (usage: $0 [--extra-packages PKG[,PKG...]] [--repo NAME])" ;;
    esac
done
if [[ -n $extra ]]; then
    [[ $extra =~ ^[a-z0-9][a-z0-9+.-]+(,[a-z0-9][a-z0-9+.-]+)*$ ]] ||
        die "not a comma-separated list of Debian package names: $extra"
    [[ $extra_repo =~ ^[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*$ ]] ||
        die "not an image name: $extra_repo"
    [[ $extra_repo != "$REPO" ]] || die "--repo $REPO is the test image's own name: choose another"
fi

# The image with the extra packages, on top of the test image tagged $1. Prints its tag.
build_extra() {
    local base=$1 hash tag
    hash=$( { cat "$0"; printf '%s %s\n' "$base" "$extra"; } | sha256sum | cut -c1-12)
    tag="$extra_repo:$hash"
    if docker image inspect "$tag" >/dev/null 2>&1; then
        log "reusing $tag"
    else
        log "building $tag: $base plus ${extra//,/ }"
        # policy-rc.d: no service is started while the packages install (no init runs here).
        docker build --network host --quiet --tag "$tag" - >&2 <<EOF
FROM $base
RUN printf '#!/bin/sh\\nexit 101\\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d \\
    && apt-get update -q \\
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends ${extra//,/ } \\
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /usr/sbin/policy-rc.d
EOF
    fi
    docker tag "$tag" "$extra_repo:latest"
    printf '%s\n' "$tag"
}

# The mirror apt uses for $SUITE: the first URI of a deb822 source listing the suite, else the
# first `deb` line of sources.list naming it.
apt_mirror() {
    local f uris suites line
    for f in /etc/apt/sources.list.d/*.sources; do
        [[ -f $f ]] || continue
        uris="" suites=""
        while IFS= read -r line || [[ -n $line ]]; do
            case $line in
                URIs:*) uris=${line#URIs:} ;;
                Suites:*) suites=${line#Suites:} ;;
                "")
                    if [[ " $suites " == *" $SUITE "* && -n $uris ]]; then
                        read -r uris _ <<<"$uris"
                        printf '%s\n' "$uris"
                        return 0
                    fi
                    uris="" suites=""
                    ;;
            esac
        done <"$f"
        if [[ " $suites " == *" $SUITE "* && -n $uris ]]; then
            read -r uris _ <<<"$uris"
            printf '%s\n' "$uris"
            return 0
        fi
    done
    if [[ -f /etc/apt/sources.list ]]; then
        local kind url codename rest
        while read -r kind url codename rest; do
            if [[ $kind == deb && $codename == "$SUITE" ]]; then
                printf '%s\n' "$url"
                return 0
            fi
        done </etc/apt/sources.list
    fi
    return 1
}

[[ $(id -u) -eq 0 ]] || die "run as root (debootstrap and docker need it)"
command -v debootstrap >/dev/null || die "debootstrap is missing (Debian package debootstrap)"
command -v docker >/dev/null || die "docker is missing"
docker info >/dev/null 2>&1 || die "the Docker engine is not running"

hash=$( { cat "$0"; printf '%s %s\n' "$SUITE" "$PACKAGES"; } | sha256sum | cut -c1-12)
tag="$REPO:$hash"
if docker image inspect "$tag" >/dev/null 2>&1; then
    log "reusing $tag"
    docker tag "$tag" "$REPO:latest"
    if [[ -n $extra ]]; then
        build_extra "$tag"
    else
        printf '%s\n' "$tag"
    fi
    exit 0
fi

mirror=${FWT_DEBIAN_MIRROR:-}
if [[ -z $mirror ]]; then
    mirror=$(apt_mirror) || die "no Debian mirror for $SUITE in the apt sources; set FWT_DEBIAN_MIRROR"
fi
[[ $mirror =~ ^https?://[A-Za-z0-9.-]+(:[0-9]+)?(/[A-Za-z0-9._/~-]*)?$ ]] || die "not a mirror URL: $mirror"

root=$(mktemp -d /var/tmp/fwt-rootfs-XXXXXX)
trap 'rm -rf --one-file-system "$root"' EXIT
log "debootstrap $SUITE (minbase + $PACKAGES) from the apt mirror into $root"
debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$root" "$mirror" >&2
# Keep the image small: no apt lists or caches.
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*
log "importing as $tag"
tar -C "$root" --numeric-owner -c . | docker import \
    --change 'CMD ["sleep", "infinity"]' \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    - "$tag" >/dev/null
docker tag "$tag" "$REPO:latest"
if [[ -n $extra ]]; then
    build_extra "$tag"
else
    printf '%s\n' "$tag"
fi
