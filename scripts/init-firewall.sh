#!/usr/bin/env bash
# init-firewall.sh — devcontainer egress firewall, bash reference implementation.
#
# Implements the seed document (shared/seeds/firewall-and-security.txt) as written, and
# nothing more: it is the worked example of a "custom override" (.cspace/init-firewall.sh)
# that the conformance suite judges. The hardening the seed does not ask for (IPv6, DNS only to
# the configured resolvers, no open window during a re-run, fail-closed on error, ...) is the
# job of the Rust reference implementation (`fw-cli init`), not of this script.
#
# Seed: "The firewall script runs on every container start (iptables rules are kernel state and
# don't persist across container restarts)." Run it as root (CAP_NET_ADMIN, CAP_NET_RAW).
#
# Inputs (all validated before use):
#   CSPACE_FIREWALL_DOMAINS   extra domains, space separated (from firewall.domains in .cspace.json)
#   npm configuration         the npm registry's host: NPM_CONFIG_REGISTRY, npm_config_registry,
#                             the `registry=` line of an npmrc, or `npm config get registry`
#
# Exit status: 0 on success (and /tmp/.firewall-init-done exists), 1 on any error.

set -euo pipefail
IFS=$'\n\t'

readonly MARKER=/tmp/.firewall-init-done
readonly IPSET_NAME=allowed-domains
readonly GITHUB_META_URL=https://api.github.com/meta

# Seed, "Vercel CDN": 76.76.21.0/24, 64.29.17.0/24, 216.198.79.0/24
readonly VERCEL_CIDRS=(76.76.21.0/24 64.29.17.0/24 216.198.79.0/24)

# Seed, required domains (the npm registry's host is added from the npm configuration).
readonly REQUIRED_DOMAINS=(
    api.anthropic.com auth.anthropic.com # Anthropic
    claude.ai context7.com               # Claude
    sentry.io us.sentry.io mcp.sentry.dev statsig.anthropic.com statsig.com # Observability
    playwright.dev                       # Testing
)

# --- helpers ---------------------------------------------------------------------------------

log() { printf '[init-firewall] %s\n' "$*" >&2; }
warn() { printf '[init-firewall] WARNING: %s\n' "$*" >&2; }
die() {
    printf '[init-firewall] ERROR: %s\n' "$*" >&2
    exit 1
}
# Any command that fails unexpectedly (set -e) is reported with its line before the exit.
trap 'printf "[init-firewall] ERROR: command failed (exit %s) at line %s: %s\n" "$?" "$LINENO" "$BASH_COMMAND" >&2' ERR

# One IPv4 octet without leading zeros (0-255), an IPv4 address, a CIDR prefix length (0-32).
readonly OCTET_RE='(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])'
readonly IPV4_RE="^${OCTET_RE}\.${OCTET_RE}\.${OCTET_RE}\.${OCTET_RE}\$"
readonly CIDR_RE="^${OCTET_RE}\.${OCTET_RE}\.${OCTET_RE}\.${OCTET_RE}/(3[0-2]|[12]?[0-9])\$"
# A host name: dot-separated labels of letters, digits and inner hyphens (1-63 characters
# each), at least two labels, the last one starting with a letter (so an address is not a name).
readonly LABEL_RE='[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?'
readonly HOSTNAME_RE="^(${LABEL_RE}\.)+[A-Za-z]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\$"
# A saved Docker nat rule: `-A CHAIN ...`, made only of the characters Docker's rules use.
readonly NAT_RULE_RE='^-A [A-Za-z0-9_./:! -]+$'

is_ipv4() { [[ $1 =~ $IPV4_RE ]]; }
is_ipv4_cidr() { [[ $1 =~ $CIDR_RE ]]; }
is_hostname() { [[ ${#1} -le 253 && $1 =~ $HOSTNAME_RE ]]; }

# network_of 172.18.0.2/16 -> 172.18.0.0/16 (the network address of an interface address).
network_of() {
    local cidr=$1 a b c d prefix ip mask net
    is_ipv4_cidr "$cidr" || return 1
    prefix=${cidr#*/}
    IFS=. read -r a b c d <<<"${cidr%/*}"
    ip=$(((10#$a << 24) | (10#$b << 16) | (10#$c << 8) | 10#$d))
    mask=$(((0xFFFFFFFF << (32 - prefix)) & 0xFFFFFFFF))
    net=$((ip & mask))
    printf '%d.%d.%d.%d/%d\n' $(((net >> 24) & 255)) $(((net >> 16) & 255)) \
        $(((net >> 8) & 255)) $((net & 255)) "$prefix"
}

# The host of a registry URL: https://user@host:port/path -> host (empty if there is none).
url_host() {
    local url=$1
    url=${url#\"}
    url=${url%\"}
    url=${url#*://}  # scheme
    url=${url%%/*}   # path
    url=${url%%\?*}  # query
    url=${url%%#*}   # fragment
    url=${url##*@}   # user info
    url=${url%%:*}   # port
    printf '%s\n' "$url"
}

# The npm registry URL, from the npm configuration (never hard-coded here).
npm_registry_url() {
    local file line value
    if [[ -n ${NPM_CONFIG_REGISTRY:-} ]]; then
        printf '%s\n' "$NPM_CONFIG_REGISTRY"
        return 0
    fi
    if [[ -n ${npm_config_registry:-} ]]; then
        printf '%s\n' "$npm_config_registry"
        return 0
    fi
    for file in "${HOME:-/root}/.npmrc" /root/.npmrc /usr/local/etc/npmrc /etc/npmrc; do
        [[ -r $file ]] || continue
        while IFS= read -r line || [[ -n $line ]]; do
            if [[ $line =~ ^[[:space:]]*registry[[:space:]]*=[[:space:]]*([^[:space:]]+) ]]; then
                value=${BASH_REMATCH[1]}
                printf '%s\n' "$value"
                return 0
            fi
        done <"$file"
    done
    if command -v npm >/dev/null 2>&1; then
        value=$(npm config get registry 2>/dev/null || true)
        if [[ -n $value ]]; then
            printf '%s\n' "$value"
            return 0
        fi
    fi
    return 0
}

# Resolve a domain with `dig +short A` (the seed's method) and add every IPv4 address to the
# ipset. dig +short also prints CNAME targets: only lines that are addresses are kept.
# A domain that resolves to nothing is a warning, not an error (seed: "If a domain fails to
# resolve, a warning is logged but the firewall continues").
add_domain() {
    local domain=$1 answer line added=0
    answer=$(dig +short A "$domain" 2>/dev/null) || answer=""
    while IFS= read -r line; do
        if is_ipv4 "$line"; then
            ipset add -exist "$IPSET_NAME" "$line"
            added=$((added + 1))
        fi
    done <<<"$answer"
    if ((added == 0)); then
        warn "could not resolve $domain (no A record); continuing without it"
    else
        log "allowed $domain ($added address(es))"
    fi
}

# --- Serialise: one run at a time --------------------------------------------------------------
# The seed says nothing about concurrent runs; two unserialised runs flush and rebuild under
# each other (SEQ-10). The lock is held until this process exits.
readonly LOCK=/run/init-firewall.lock
exec 9>"$LOCK" || die "cannot open the lock file $LOCK"
flock -w 120 9 || die "another run holds $LOCK"

# --- 0. A marker from an earlier run must not survive this one -------------------------------
# Seed: "A marker file (/tmp/.firewall-init-done) is created on success." Removed first, so
# that it only ever exists after a run that succeeded.
rm -f "$MARKER"

# --- preflight: tools and configuration, checked before the firewall is changed --------------

[[ $EUID -eq 0 ]] || die "must run as root (iptables needs CAP_NET_ADMIN)"

for tool in iptables iptables-save ipset curl jq dig ip; do
    command -v "$tool" >/dev/null 2>&1 || die "required tool not found: $tool"
done

# Seed: "Additional domains are read from the CSPACE_FIREWALL_DOMAINS environment variable
# (space-separated)." Each one must be a valid host name.
extra_domains=()
IFS=$' \t\n' read -r -d '' -a extra_domains <<<"${CSPACE_FIREWALL_DOMAINS:-}" || true
for domain in "${extra_domains[@]}"; do
    is_hostname "$domain" || die "invalid domain in CSPACE_FIREWALL_DOMAINS: '$domain'"
done

# Seed, "npm: the npm registry's host", taken from the npm configuration.
npm_url=$(npm_registry_url)
npm_host=""
if [[ -n $npm_url ]]; then
    npm_host=$(url_host "$npm_url")
    if ! is_hostname "$npm_host" && ! is_ipv4 "$npm_host"; then
        die "invalid npm registry URL in the npm configuration: '$npm_url'"
    fi
else
    warn "no npm registry configured (NPM_CONFIG_REGISTRY, npmrc, npm config); npm will be blocked"
fi

# --- 1. Extract Docker DNS rules -------------------------------------------------------------
# Seed: "save internal Docker DNS resolution rules before flushing"
log "1/7 saving Docker DNS rules"
docker_dns_rules=$(iptables-save -t nat | grep "127\.0\.0\.11" || true)

# --- 2. Set permissive policies --------------------------------------------------------------
# Seed: "temporarily allow all traffic to prevent lockout during rule changes"
log "2/7 permissive policies"
iptables -P INPUT ACCEPT
iptables -P FORWARD ACCEPT
iptables -P OUTPUT ACCEPT

# --- 3. Flush all existing rules -------------------------------------------------------------
# Seed: "clean slate across all iptables tables (filter, nat, mangle)"
log "3/7 flushing filter, nat and mangle"
for table in filter nat mangle; do
    iptables -t "$table" -F
    iptables -t "$table" -X
done
ipset destroy "$IPSET_NAME" 2>/dev/null || true

# --- 4. Restore Docker DNS -------------------------------------------------------------------
# Seed: "re-apply the saved DNS resolution rules so container DNS keeps working"
if [[ -n $docker_dns_rules ]]; then
    log "4/7 restoring Docker DNS rules"
    iptables -t nat -N DOCKER_OUTPUT 2>/dev/null || true
    iptables -t nat -N DOCKER_POSTROUTING 2>/dev/null || true
    while IFS= read -r rule; do
        if [[ ! $rule =~ $NAT_RULE_RE ]]; then
            warn "skipping unexpected saved nat rule: $rule"
            continue
        fi
        IFS=' ' read -ra rule_words <<<"$rule"
        iptables -t nat "${rule_words[@]}"
    done <<<"$docker_dns_rules"
else
    log "4/7 no Docker DNS rules to restore"
fi

# --- 5. Build the allowlist ------------------------------------------------------------------
# Seed: "resolve domains, fetch GitHub IP ranges, add CIDR blocks"
log "5/7 building the allowlist"
ipset create "$IPSET_NAME" hash:net

# Seed: "GitHub IPs are fetched dynamically from the GitHub meta API and include the web, api,
# and git CIDR ranges. [...] The script validates the API response before adding ranges. If the
# fetch fails, the firewall script exits with an error."
meta=$(curl -fsS --connect-timeout 10 --max-time 30 "$GITHUB_META_URL") ||
    die "could not fetch GitHub IP ranges from $GITHUB_META_URL"
[[ -n $meta ]] || die "empty response from $GITHUB_META_URL"
jq empty <<<"$meta" >/dev/null 2>&1 || die "invalid response from $GITHUB_META_URL: not JSON"
jq -e '(.web | type == "array") and (.api | type == "array") and (.git | type == "array")' \
    <<<"$meta" >/dev/null 2>&1 ||
    die "invalid response from $GITHUB_META_URL: web, api and git must be arrays"

github_count=0
while IFS= read -r range; do
    if [[ $range == *:* ]]; then
        continue # IPv6: this set is family inet
    fi
    if ! is_ipv4_cidr "$range"; then
        warn "skipping malformed GitHub range: '$range'"
        continue
    fi
    ipset add -exist "$IPSET_NAME" "$range"
    github_count=$((github_count + 1))
done < <(jq -r '(.web + .api + .git)[] | tostring' <<<"$meta")
log "allowed $github_count GitHub IPv4 range(s) (web, api, git)"

# Seed, "Vercel CDN": CIDR ranges are added directly to the ipset.
for range in "${VERCEL_CIDRS[@]}"; do
    ipset add -exist "$IPSET_NAME" "$range"
done

# Seed: "Domain names — resolved to IP addresses via dig +short A, then each IP is added
# individually."
if [[ -n $npm_host ]]; then
    if is_ipv4 "$npm_host"; then
        ipset add -exist "$IPSET_NAME" "$npm_host"
    else
        add_domain "$npm_host"
    fi
fi
for domain in "${REQUIRED_DOMAINS[@]}" "${extra_domains[@]}"; do
    add_domain "$domain"
done

# Seed: "The firewall auto-detects all connected Docker subnets and allows traffic to and from
# them." Every IPv4 subnet of every non-loopback interface.
docker_subnets=()
declare -A seen_subnets=()
while IFS=' ' read -r _ ifname _ address _; do
    [[ -n ${ifname:-} && $ifname != lo ]] || continue
    subnet=$(network_of "$address") || {
        warn "skipping unexpected interface address on $ifname: '$address'"
        continue
    }
    if [[ -z ${seen_subnets[$subnet]:-} ]]; then
        seen_subnets[$subnet]=1
        docker_subnets+=("$subnet")
        log "allowed Docker subnet $subnet ($ifname)"
    fi
done < <(ip -o -4 addr show scope global)
((${#docker_subnets[@]} > 0)) || warn "no connected IPv4 subnet found"

# --- 6. Set restrictive policies -------------------------------------------------------------
# Seed: "switch to default-deny with the allowlist in place". The rules go in first, then the
# policies.
log "6/7 restrictive policies"

# Seed: "Inbound traffic is restricted to established connections and Docker network traffic"
iptables -A INPUT -i lo -j ACCEPT
iptables -A INPUT -m state --state ESTABLISHED,RELATED -j ACCEPT
for subnet in "${docker_subnets[@]}"; do
    iptables -A INPUT -s "$subnet" -j ACCEPT
done

# Seed, required: Localhost (loopback), DNS (UDP port 53), SSH (TCP port 22), then the allowlist.
iptables -A OUTPUT -o lo -j ACCEPT
iptables -A OUTPUT -p udp --dport 53 -j ACCEPT
iptables -A OUTPUT -p tcp --dport 53 -j ACCEPT
iptables -A OUTPUT -p tcp --dport 22 -j ACCEPT
iptables -A OUTPUT -m state --state ESTABLISHED,RELATED -j ACCEPT
for subnet in "${docker_subnets[@]}"; do
    iptables -A OUTPUT -d "$subnet" -j ACCEPT
done
iptables -A OUTPUT -m set --match-set "$IPSET_NAME" dst -j ACCEPT

# Seed: "Blocked connections get an immediate REJECT (not a silent DROP)"
iptables -A INPUT -j REJECT --reject-with icmp-admin-prohibited
iptables -A OUTPUT -j REJECT --reject-with icmp-admin-prohibited

# Seed: "All outbound traffic is blocked unless it matches the allowlist", "Forwarding is
# disabled entirely"
iptables -P INPUT DROP
iptables -P FORWARD DROP
iptables -P OUTPUT DROP

# --- 7. Verify -------------------------------------------------------------------------------
# Seed: "confirm blocked sites are blocked and allowed sites are reachable. [...] If either
# check fails, the script exits with an error".
log "7/7 verifying"
if curl --connect-timeout 5 --max-time 10 -s -o /dev/null https://example.com; then
    die "verification failed: https://example.com is reachable, the firewall does not block"
fi
log "blocked as expected: https://example.com"
# Connectivity only (no -f): any HTTP answer, a 403 rate limit included, proves the path.
if ! curl --connect-timeout 5 --max-time 10 -s -o /dev/null https://api.github.com/zen; then
    die "verification failed: https://api.github.com/zen is not reachable"
fi
log "reachable as expected: https://api.github.com/zen"

# Seed: "A marker file (/tmp/.firewall-init-done) is created on success."
touch "$MARKER"
entries=$(ipset list "$IPSET_NAME" | grep -cE '^[0-9]' || true)
log "firewall initialised: default deny, $entries allowlist entries, ${#docker_subnets[@]} Docker subnet(s)"
