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
set -euo pipefail

readonly SUITE=bookworm
readonly REPO=fw-conformance-debian
readonly PACKAGES=iptables,ipset,nftables,dnsutils,curl,jq,ca-certificates,iproute2,conntrack,sudo,procps

log() { printf 'build-test-image: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

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
    printf '%s\n' "$tag"
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
printf '%s\n' "$tag"
