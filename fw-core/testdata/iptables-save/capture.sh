#!/bin/bash
# Regenerates the iptables-save fixtures in this directory from real iptables binaries.
#
# Everything runs inside throwaway network namespaces (fwt-cap-<pid>-<n>); nothing touches the
# machine's own namespace, and every namespace is deleted on exit, even on failure.
# Run as root from this directory: ./capture.sh
set -euo pipefail
cd "$(dirname "$0")"

TCPPORT=41234
UDPPORT=53211
NAMESPACES=()
cleanup() {
    for ns in "${NAMESPACES[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
}
trap cleanup EXIT

n=0
# Sets $ns to a fresh namespace (not in a subshell, so that cleanup sees every name).
new_ns() {
    n=$((n + 1))
    ns="fwt-cap-$$-$n"
    NAMESPACES+=("$ns")
    ip netns add "$ns"
    ip netns exec "$ns" ip link set lo up
}

# Docker's own sequence (moby daemon/libnetwork/resolver_unix.go, setupIptablesNAT): create the
# chains, insert the jumps, then insert (-I, at the top) udp DNAT, udp SNAT, tcp DNAT, tcp SNAT.
docker_dns_rules() {
    local ns=$1 ipt=$2
    local x=(ip netns exec "$ns" "$ipt" -w)
    "${x[@]}" -t nat -N DOCKER_OUTPUT
    "${x[@]}" -t nat -I OUTPUT -d 127.0.0.11 -j DOCKER_OUTPUT
    "${x[@]}" -t nat -N DOCKER_POSTROUTING
    "${x[@]}" -t nat -I POSTROUTING -d 127.0.0.11 -j DOCKER_POSTROUTING
    "${x[@]}" -t nat -I DOCKER_OUTPUT -d 127.0.0.11 -p udp --dport 53 -j DNAT --to-destination 127.0.0.11:$UDPPORT
    "${x[@]}" -t nat -I DOCKER_POSTROUTING -s 127.0.0.11 -p udp --sport $UDPPORT -j SNAT --to-source :53
    "${x[@]}" -t nat -I DOCKER_OUTPUT -d 127.0.0.11 -p tcp --dport 53 -j DNAT --to-destination 127.0.0.11:$TCPPORT
    "${x[@]}" -t nat -I DOCKER_POSTROUTING -s 127.0.0.11 -p tcp --sport $TCPPORT -j SNAT --to-source :53
}

# One UDP datagram to 127.0.0.11:53, so that `-c` shows non-zero counters on the udp DNAT rule.
poke_dns() {
    ip netns exec "$1" bash -c 'echo ping > /dev/udp/127.0.0.11/53' || true
}

# Unrelated rules a container may carry besides Docker's: a nat rule of its own, a filter table,
# comments with spaces and with escaped quotes.
noise_rules() {
    local ns=$1 ipt=$2
    local x=(ip netns exec "$ns" "$ipt" -w)
    "${x[@]}" -t nat -A OUTPUT -d 198.51.100.7 -p tcp --dport 8080 -m comment --comment "has spaces" -j DNAT --to-destination 127.0.0.1:8080
    "${x[@]}" -t nat -N MYAPP
    "${x[@]}" -t nat -A POSTROUTING -j MYAPP
    "${x[@]}" -t nat -A MYAPP -s 10.9.0.0/16 -m comment --comment 'say "hi" to DOCKER_OUTPUT' -j MASQUERADE
    "${x[@]}" -t filter -P OUTPUT DROP
    "${x[@]}" -t filter -A OUTPUT -o lo -j ACCEPT
    "${x[@]}" -t filter -A OUTPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
    "${x[@]}" -t filter -A OUTPUT -p tcp --dport 443 -m comment --comment "fw: allow https" -j ACCEPT
    "${x[@]}" -t filter -A OUTPUT -j REJECT --reject-with icmp-admin-prohibited
}

iptables --version
iptables-nft --version
iptables-legacy --version
nft --version

# 1. iptables-nft (Debian's default `iptables`).
new_ns
docker_dns_rules "$ns" iptables-nft
poke_dns "$ns"
ip netns exec "$ns" iptables-nft-save -t nat > nft-nat.txt
ip netns exec "$ns" iptables-nft-save -c -t nat > nft-nat-counters.txt
ip netns exec "$ns" iptables-nft-save > nft-full.txt
ip netns exec "$ns" iptables-nft-save -c > nft-full-counters.txt

# 2. iptables-legacy, in a second fresh namespace.
new_ns
docker_dns_rules "$ns" iptables-legacy
poke_dns "$ns"
ip netns exec "$ns" iptables-legacy-save -t nat > legacy-nat.txt
ip netns exec "$ns" iptables-legacy-save -c -t nat > legacy-nat-counters.txt
ip netns exec "$ns" iptables-legacy-save > legacy-full.txt
# The backend-mismatch trap: Docker wrote with legacy, the container saves with nft. iptables
# 1.8.9 prints the "legacy tables present" warning on stderr (older releases printed it on
# stdout), so each is captured twice: stdout only, and stdout and stderr merged (2>&1).
ip netns exec "$ns" iptables-nft-save -t nat > legacy-present-nft-save-nat.txt 2>/dev/null
ip netns exec "$ns" iptables-nft-save -t nat > legacy-present-nft-save-nat-merged.txt 2>&1
ip netns exec "$ns" iptables-nft-save > legacy-present-nft-save-full.txt 2>/dev/null
ip netns exec "$ns" iptables-nft-save > legacy-present-nft-save-full-merged.txt 2>&1

# 3. Docker's rules with nft, plus a legacy table in the same namespace: nft-save shows the rules
#    and the warning.
new_ns
docker_dns_rules "$ns" iptables-nft
ip netns exec "$ns" iptables-legacy -w -t filter -A OUTPUT -d 192.0.2.1 -j ACCEPT
ip netns exec "$ns" iptables-nft-save -t nat > nft-with-legacy-warning-merged.txt 2>&1

# 4. Noise: Docker's rules with nft plus unrelated rules, full save with counters.
new_ns
docker_dns_rules "$ns" iptables-nft
noise_rules "$ns" iptables-nft
poke_dns "$ns"
ip netns exec "$ns" iptables-nft-save -c > nft-noise-full-counters.txt
ip netns exec "$ns" iptables-nft-save -t nat > nft-noise-nat.txt

# 5. Noise with legacy.
new_ns
docker_dns_rules "$ns" iptables-legacy
noise_rules "$ns" iptables-legacy
ip netns exec "$ns" iptables-legacy-save > legacy-noise-full.txt

# 6. No Docker DNS at all (Podman, plain networks): an empty nat table.
new_ns
ip netns exec "$ns" iptables-nft -w -t nat -A POSTROUTING -s 10.9.0.0/16 -j MASQUERADE
ip netns exec "$ns" iptables-nft-save -t nat > nft-no-docker.txt

# 7. Rules iptables-nft cannot show: Docker's chains plus a native nft DNAT rule in `ip nat`.
#    iptables-nft-save gives up on the whole table and prints only a comment (on stdout).
new_ns
docker_dns_rules "$ns" iptables-nft
ip netns exec "$ns" nft add rule ip nat OUTPUT ip daddr 127.0.0.11 udp dport 5353 counter dnat to 127.0.0.11:$UDPPORT
ip netns exec "$ns" iptables-nft-save -t nat > nft-incompatible.txt 2>&1

echo "wrote $(find . -maxdepth 1 -name "*.txt" | wc -l) files"
