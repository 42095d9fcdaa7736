//! The sandbox's address plan: every address, prefix, port and link of the conformance suite's
//! simulated world, written once, typed. The topology, the mocks, the sandbox, the checks and
//! the spreads all read it, and `docs/sandbox.md` prints it ([`markdown`]).
//!
//! ```text
//!  world ── eth0 ═══ wan0 ── host ── br-a ═══ eth0 ── container ── eth1 ═══ br-b ── host
//!                                                                             br-b ═══ eth0 ── svc
//! ```
//!
//! All public addresses are documentation ranges (RFC 5737, RFC 3849) or ranges of the real
//! services the seed allowlists (Vercel); the world answers for every address, so nothing here
//! ever leaves the sandbox.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use ipnet::{Ipv4Net, Ipv6Net};

// ---- GitHub's meta ranges ------------------------------------------------------------------

/// GitHub meta `web` range (github.com lives here).
pub const GITHUB_WEB_V4: Ipv4Net = Ipv4Net::new_assert(Ipv4Addr::new(192, 0, 2, 0), 26);
/// GitHub meta `api` range (api.github.com lives here).
pub const GITHUB_API_V4: Ipv4Net = Ipv4Net::new_assert(Ipv4Addr::new(192, 0, 2, 64), 26);
/// GitHub meta `git` range (the SSH git host lives here).
pub const GITHUB_GIT_V4: Ipv4Net = Ipv4Net::new_assert(Ipv4Addr::new(192, 0, 2, 128), 26);
/// GitHub meta `web` range, IPv6.
pub const GITHUB_WEB_V6: Ipv6Net =
    Ipv6Net::new_assert(Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0), 48);
/// GitHub meta `api` range, IPv6.
pub const GITHUB_API_V6: Ipv6Net =
    Ipv6Net::new_assert(Ipv6Addr::new(0x2001, 0xdb8, 2, 0, 0, 0, 0, 0), 48);
/// GitHub meta `git` range, IPv6.
pub const GITHUB_GIT_V6: Ipv6Net =
    Ipv6Net::new_assert(Ipv6Addr::new(0x2001, 0xdb8, 3, 0, 0, 0, 0, 0), 48);
/// Ranges that appear only under other meta keys (`hooks`, `actions`, `pages`): a firewall
/// that takes the whole meta document instead of `web`/`api`/`git` opens these, and must not.
pub const OTHER_KEY_V4: [Ipv4Net; 2] = [
    Ipv4Net::new_assert(Ipv4Addr::new(192, 0, 2, 192), 26),
    Ipv4Net::new_assert(Ipv4Addr::new(198, 18, 0, 0), 16),
];
/// The IPv6 range of every meta key but `web`/`api`/`git`: must stay blocked.
pub const OTHER_KEY_V6: Ipv6Net =
    Ipv6Net::new_assert(Ipv6Addr::new(0x2001, 0xdb8, 0xa, 0, 0, 0, 0, 0), 48);
/// The IPv4 range of the scaled meta documents (the large-allowlist scenarios): the shared
/// address space (RFC 6598), 2^19 slots of 8 addresses; big, and never a Docker pool or another
/// range of this plan (the transfer link's /30 sits at its very end, past every slot used).
pub const SCALED_V4: Ipv4Net = Ipv4Net::new_assert(Ipv4Addr::new(100, 64, 0, 0), 10);
/// The IPv6 range of the scaled meta documents: inside the documentation prefix, apart from
/// every other /48 of this plan (those are all below 2001:db8:100::).
pub const SCALED_V6: Ipv6Net =
    Ipv6Net::new_assert(Ipv6Addr::new(0x2001, 0xdb8, 0x100, 0, 0, 0, 0, 0), 40);

/// github.com's address, a test host in the `web` range.
pub const WEB_HOST: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);
/// api.github.com's address (the meta API), in the `api` range.
pub const API_HOST: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 70);
/// api.github.com's IPv6 address, in the IPv6 `api` range.
pub const API_HOST_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 2, 0, 0, 0, 0, 0x70);
/// A test host in the `git` range.
pub const GIT_HOST: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 130);
/// A test host in the `hooks` range (never to be allowed).
pub const HOOKS_HOST: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 200);
/// A test host in the `actions` range (never to be allowed).
pub const ACTIONS_HOST: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 10);
/// Where api.github.com points in VER-02: outside every meta range.
pub const API_HOST_OUTSIDE: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 70);
/// Where api.github.com points in FAIL-01: a meta address whose port 443 refuses.
pub const API_HOST_REFUSING: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 66);
/// Where example.com points when it is (wrongly) allowlisted: inside GitHub's `web` range.
pub const EXAMPLE_ALLOWLISTED: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 11);

// ---- Vercel ----------------------------------------------------------------------------------

/// The Vercel CDN ranges a firewall must allow.
pub const VERCEL_V4: [Ipv4Net; 3] = [
    Ipv4Net::new_assert(Ipv4Addr::new(76, 76, 21, 0), 24),
    Ipv4Net::new_assert(Ipv4Addr::new(64, 29, 17, 0), 24),
    Ipv4Net::new_assert(Ipv4Addr::new(216, 198, 79, 0), 24),
];
/// One test host in each of [`VERCEL_V4`].
pub const VERCEL_HOSTS: [Ipv4Addr; 3] = [
    Ipv4Addr::new(76, 76, 21, 10),
    Ipv4Addr::new(64, 29, 17, 10),
    Ipv4Addr::new(216, 198, 79, 10),
];

// ---- Domains ---------------------------------------------------------------------------------

/// A records of required and extra domains (the npm registry host included).
pub const DOMAINS_V4: Ipv4Net = Ipv4Net::new_assert(Ipv4Addr::new(203, 0, 113, 0), 24);
/// AAAA records of required and extra domains.
pub const DOMAINS_V6: Ipv6Net =
    Ipv6Net::new_assert(Ipv6Addr::new(0x2001, 0xdb8, 0x10, 0, 0, 0, 0, 0), 48);
/// Where the mock DNS puts names a scenario did not configure (inside [`DOMAINS_V4`]).
pub const CATCH_ALL_V4: Ipv4Net = Ipv4Net::new_assert(Ipv4Addr::new(203, 0, 113, 128), 25);

const fn d(c: u8) -> Ipv4Addr {
    Ipv4Addr::new(203, 0, 113, c)
}

/// The required domains of the seed (besides the npm registry's host) and their A records;
/// `api.anthropic.com` has several, so "every A record" is checked.
pub const REQUIRED: &[(&str, &[Ipv4Addr])] = &[
    ("api.anthropic.com", &[d(10), d(11)]),
    ("auth.anthropic.com", &[d(12)]),
    ("claude.ai", &[d(13)]),
    ("context7.com", &[d(14)]),
    ("sentry.io", &[d(15)]),
    ("us.sentry.io", &[d(16)]),
    ("mcp.sentry.dev", &[d(17)]),
    ("statsig.anthropic.com", &[d(18)]),
    ("statsig.com", &[d(19)]),
    ("playwright.dev", &[d(20)]),
];
/// AAAA records in dual stack.
pub const REQUIRED_AAAA: &[(&str, Ipv6Addr)] = &[(
    "api.anthropic.com",
    Ipv6Addr::new(0x2001, 0xdb8, 0x10, 0, 0, 0, 0, 0x10),
)];
/// The npm registry host's A records (whatever its name, `--npm-registry-host`).
pub const NPM_ADDRS: &[Ipv4Addr] = &[d(30), d(31)];
/// The extra domains every scenario passes in `CSPACE_FIREWALL_DOMAINS` that resolve, and their
/// A records (ALW-08, ALW-09, ALW-12).
pub const EXTRA_OK: &[(&str, &[Ipv4Addr])] = &[
    ("extra-one.example.test", &[d(40)]),
    ("extra-two.example.test", &[d(41), d(42)]),
];
/// The A record at the end of the extra CNAME chain (`cname-final.example.test`).
pub const CNAME_FINAL_ADDRS: &[Ipv4Addr] = &[d(50)];

/// Every A record of the zone's allowlisted names: required, npm, extra, CNAME target.
pub fn resolved_v4() -> Vec<Ipv4Addr> {
    REQUIRED
        .iter()
        .chain(EXTRA_OK)
        .flat_map(|(_, a)| a.iter())
        .chain(NPM_ADDRS)
        .chain(CNAME_FINAL_ADDRS)
        .copied()
        .collect()
}

// ---- Blocked hosts and resolvers -----------------------------------------------------------

/// Blocked IPv4 hosts.
pub const BLOCKED_NET_V4: Ipv4Net = Ipv4Net::new_assert(Ipv4Addr::new(198, 51, 100, 0), 24);
/// Blocked IPv6 hosts (probed by literal address).
pub const BLOCKED_NET_V6: Ipv6Net =
    Ipv6Net::new_assert(Ipv6Addr::new(0x2001, 0xdb8, 0xbad, 0, 0, 0, 0, 0), 48);
/// The blocked host every check probes, example.com's address (A record only).
pub const BLOCKED: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 10);
/// The blocked IPv6 host.
pub const BLOCKED_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xbad, 0, 0, 0, 0, 0x10);
/// The world resolver that resolv.conf names in the `none` DNS variant, and Docker's embedded
/// DNS forwards to.
pub const WORLD_RESOLVER: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 2);
/// A world resolver the container is NOT configured with (a script must not reach it).
pub const UNCONFIGURED_RESOLVER: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 53);
/// What the world's test hosts answer, on port 53, for any name.
pub const HOSTS_DNS_ANSWER: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 99);
/// Docker's embedded DNS address inside the container.
pub const DOCKER_DNS: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 11);
/// The destination of the stale nat rule SEQ-03 plants (DNAT to [`BLOCKED`]).
pub const STALE_NAT_TARGET: Ipv4Addr = Ipv4Addr::new(10, 99, 99, 99);
/// The world host POL-03's sidecar routes through the container (a world test host listens on
/// [`FORWARD_PORT`] there).
pub const FORWARD_TARGET: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 99);
/// A world address the topology's own checks connect to (IPv4).
pub const WORLD_PROBE_V4: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 1);
/// A world address the topology's own checks connect to (IPv6).
pub const WORLD_PROBE_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0x10, 0, 0, 0, 0, 1);

// ---- The Docker side -------------------------------------------------------------------------

/// Docker network A (the container's eth0, its default route).
pub const NET_A: Ipv4Net = Ipv4Net::new_assert(Ipv4Addr::new(172, 18, 0, 0), 16);
/// Host's address on net A.
pub const NET_A_GATEWAY: Ipv4Addr = Ipv4Addr::new(172, 18, 0, 1);
/// The container's address on net A.
pub const CONTAINER_A: Ipv4Addr = Ipv4Addr::new(172, 18, 0, 2);
/// Docker network A, IPv6 (dual stack only).
pub const NET_A_V6: Ipv6Net =
    Ipv6Net::new_assert(Ipv6Addr::new(0xfd00, 0x18, 0, 0, 0, 0, 0, 0), 64);
/// Host's address on net A, IPv6.
pub const NET_A_V6_GATEWAY: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x18, 0, 0, 0, 0, 0, 1);
/// The container's address on net A, IPv6.
pub const CONTAINER_A_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x18, 0, 0, 0, 0, 0, 2);
/// Docker network B (the container's eth1, shared with the sidecar).
pub const NET_B: Ipv4Net = Ipv4Net::new_assert(Ipv4Addr::new(172, 19, 0, 0), 16);
/// Host's address on net B.
pub const NET_B_GATEWAY: Ipv4Addr = Ipv4Addr::new(172, 19, 0, 1);
/// The container's address on net B.
pub const CONTAINER_B: Ipv4Addr = Ipv4Addr::new(172, 19, 0, 2);
/// The sidecar's address on net B (the Docker peer).
pub const SVC: Ipv4Addr = Ipv4Addr::new(172, 19, 0, 5);
/// The gateways of net A and net B (host's addresses there).
pub const GATEWAYS: [Ipv4Addr; 2] = [NET_A_GATEWAY, NET_B_GATEWAY];
/// The Docker networks world routes back (through host, or in the Docker tier straight into the
/// container): nothing wider, so that a neighbour of a Docker network (172.17.255.10,
/// 172.20.0.10, the rest of 172.16.0.0/12) is a world address like any other.
pub const DOCKER_NETS_V4: [Ipv4Net; 2] = [NET_A, NET_B];

// ---- The transfer link -----------------------------------------------------------------------

/// The world ⟷ host transfer network. Carrier-grade NAT space: collides with nothing in the
/// plan, and a firewall has no reason to allow it.
pub const TRANSFER_V4: Ipv4Net = Ipv4Net::new_assert(Ipv4Addr::new(100, 64, 255, 0), 30);
/// Host's end of the transfer network.
pub const TRANSFER_HOST: Ipv4Addr = Ipv4Addr::new(100, 64, 255, 1);
/// World's end of the transfer network.
pub const TRANSFER_WORLD: Ipv4Addr = Ipv4Addr::new(100, 64, 255, 2);
/// The transfer network, IPv6 (dual stack only).
pub const TRANSFER_V6: Ipv6Net =
    Ipv6Net::new_assert(Ipv6Addr::new(0xfd00, 0xff, 0, 0, 0, 0, 0, 0), 64);
/// Host's end of the IPv6 transfer network.
pub const TRANSFER_HOST_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0xff, 0, 0, 0, 0, 0, 1);
/// World's end of the IPv6 transfer network.
pub const TRANSFER_WORLD_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0xff, 0, 0, 0, 0, 0, 2);

// ---- Links (interface names, at most 15 bytes) ---------------------------------------------

/// World's link to host.
pub const WORLD_IF: &str = "eth0";
/// Host's link to world.
pub const HOST_WAN_IF: &str = "wan0";
/// Host's bridge for net A (holds the gateway address).
pub const BRIDGE_A: &str = "br-a";
/// Host's bridge for net B (holds the gateway address).
pub const BRIDGE_B: &str = "br-b";
/// The container's link to world in the Docker tier (unnumbered).
pub const DOCKER_WAN_IF: &str = "fwt0";
/// The container's link on net A.
pub const CONTAINER_A_IF: &str = "eth0";
/// The container's link on net B.
pub const CONTAINER_B_IF: &str = "eth1";
/// The sidecar's link on net B.
pub const SVC_IF: &str = "eth0";
/// Host's bridge port facing the container on net A.
pub const HOST_PORT_A_CTR: &str = "va-ctr";
/// Host's bridge port facing the container on net B.
pub const HOST_PORT_B_CTR: &str = "vb-ctr";
/// Host's bridge port facing the sidecar on net B.
pub const HOST_PORT_B_SVC: &str = "vb-svc";

// ---- Ports -----------------------------------------------------------------------------------

/// The port of the test listeners the harness opens in the container, the sidecar and the host.
pub const PEER_PORT: u16 = 7_777;
/// A high port with a listener in the world, so a closed port's own RST cannot pass for a
/// REJECT.
pub const HIGH_PORT: u16 = 41_234;
/// The world's UDP echo port.
pub const UDP_ECHO_PORT: u16 = 9_999;
/// The port of [`FORWARD_TARGET`] POL-03's sidecar connects to.
pub const FORWARD_PORT: u16 = 8080;
/// A TCP port nothing listens on: connecting gets a RST, which warms neighbour entries and
/// proves routing both ways without needing a listener.
pub const CLOSED_PORT: u16 = 9;
/// The TCP ports the world's test hosts listen on (443 is the HTTPS responder's).
pub const WORLD_TCP_PORTS: [u16; 5] = [22, 53, 80, 8080, HIGH_PORT];
/// The UDP ports the world's test hosts listen on (53 answers DNS).
pub const WORLD_UDP_PORTS: [u16; 4] = [53, UDP_ECHO_PORT, 443, HIGH_PORT];
/// The container's inbound TCP listeners (besides [`PEER_PORT`], the harness's peer echo).
pub const INBOUND_TCP_PORTS: [u16; 4] = [22, 80, 443, HIGH_PORT];
/// The container's inbound UDP listeners.
pub const INBOUND_UDP_PORTS: [u16; 2] = [UDP_ECHO_PORT, HIGH_PORT];

/// An address of the plan with a port.
pub fn sa(addr: impl Into<IpAddr>, port: u16) -> SocketAddr {
    SocketAddr::new(addr.into(), port)
}

// ---- The plan in Markdown --------------------------------------------------------------------

fn table(out: &mut String, head: &[&str], rows: &[Vec<String>]) {
    let _ = writeln!(out, "| {} |", head.join(" | "));
    let _ = writeln!(out, "|{}", "---|".repeat(head.len()));
    for r in rows {
        let _ = writeln!(out, "| {} |", r.join(" | "));
    }
    out.push('\n');
}

/// A table row: the first cell is prose (it may hold code spans of its own), the others are
/// values, set as code; "-" (nothing) stays plain.
fn row<const N: usize>(cells: [&dyn std::fmt::Display; N]) -> Vec<String> {
    cells
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let c = c.to_string();
            if i == 0 || c == "-" {
                c
            } else {
                format!("`{c}`")
            }
        })
        .collect()
}

fn ports(p: &[u16]) -> String {
    p.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The plan as Markdown tables (namespaces and links, addresses, hosts, ports), for
/// `docs/sandbox.md`.
pub fn markdown() -> String {
    let mut out = String::new();
    links_table(&mut out);
    ranges_table(&mut out);
    hosts_table(&mut out);
    ports_table(&mut out);
    out
}

fn links_table(out: &mut String) {
    out.push_str("### Namespaces and links\n\n");
    let link = |a: &str, ai: &str, b: &str, bi: &str, net: String| {
        vec![
            a.to_owned(),
            format!("`{ai}`"),
            b.to_owned(),
            format!("`{bi}`"),
            net,
        ]
    };
    table(
        out,
        &["namespace", "link", "peer", "peer's link", "network"],
        &[
            link(
                "world",
                WORLD_IF,
                "host",
                HOST_WAN_IF,
                format!("`{TRANSFER_V4}`, `{TRANSFER_V6}` (dual stack)"),
            ),
            link(
                "container",
                CONTAINER_A_IF,
                "host",
                &format!("{HOST_PORT_A_CTR}` in `{BRIDGE_A}"),
                format!("net A `{NET_A}`, `{NET_A_V6}` (dual stack)"),
            ),
            link(
                "container",
                CONTAINER_B_IF,
                "host",
                &format!("{HOST_PORT_B_CTR}` in `{BRIDGE_B}"),
                format!("net B `{NET_B}`"),
            ),
            link(
                "svc",
                SVC_IF,
                "host",
                &format!("{HOST_PORT_B_SVC}` in `{BRIDGE_B}"),
                format!("net B `{NET_B}`"),
            ),
            link(
                "world",
                WORLD_IF,
                "container (Docker tier)",
                DOCKER_WAN_IF,
                "unnumbered on the container's side".to_owned(),
            ),
        ],
    );
}

fn ranges_table(out: &mut String) {
    out.push_str("### Addresses\n\n");
    let mut rows = vec![
        row([&"GitHub meta `web`", &GITHUB_WEB_V4, &GITHUB_WEB_V6]),
        row([&"GitHub meta `api`", &GITHUB_API_V4, &GITHUB_API_V6]),
        row([&"GitHub meta `git`", &GITHUB_GIT_V4, &GITHUB_GIT_V6]),
        row([&"other meta keys (never allowed)", &OTHER_KEY_V4[0], &"-"]),
        row([
            &"other meta keys (never allowed)",
            &OTHER_KEY_V4[1],
            &OTHER_KEY_V6,
        ]),
        row([&"scaled meta documents' ranges", &SCALED_V4, &SCALED_V6]),
    ];
    for v in VERCEL_V4 {
        rows.push(row([&"Vercel", &v, &"-"]));
    }
    rows.extend([
        row([&"domains' records", &DOMAINS_V4, &DOMAINS_V6]),
        row([&"mock DNS catch-all", &CATCH_ALL_V4, &"-"]),
        row([&"blocked hosts", &BLOCKED_NET_V4, &BLOCKED_NET_V6]),
        row([&"net A", &NET_A, &NET_A_V6]),
        row([&"net B", &NET_B, &"-"]),
        row([&"transfer (world ⟷ host)", &TRANSFER_V4, &TRANSFER_V6]),
    ]);
    table(out, &["range", "IPv4", "IPv6"], &rows);
}

fn hosts_table(out: &mut String) {
    out.push_str("### Hosts\n\n");
    let mut hosts = vec![
        row([&"github.com", &WEB_HOST]),
        row([&"api.github.com", &API_HOST]),
        row([&"api.github.com (IPv6)", &API_HOST_V6]),
        row([
            &"api.github.com outside every range (VER-02)",
            &API_HOST_OUTSIDE,
        ]),
        row([&"api.github.com refusing (FAIL-01)", &API_HOST_REFUSING]),
        row([&"a `git` host", &GIT_HOST]),
        row([&"a `hooks` host", &HOOKS_HOST]),
        row([&"an `actions` host", &ACTIONS_HOST]),
        row([
            &"example.com allowlisted (VER-01, VER-03)",
            &EXAMPLE_ALLOWLISTED,
        ]),
    ];
    for h in VERCEL_HOSTS {
        hosts.push(row([&"a Vercel host", &h]));
    }
    for (name, addrs) in REQUIRED.iter().chain(EXTRA_OK) {
        for a in *addrs {
            hosts.push(row([name, a]));
        }
    }
    for (name, a) in REQUIRED_AAAA {
        hosts.push(row([name, a]));
    }
    for a in NPM_ADDRS {
        hosts.push(row([&"the npm registry host", a]));
    }
    for a in CNAME_FINAL_ADDRS {
        hosts.push(row([&"cname-final.example.test", a]));
    }
    hosts.extend([
        row([&"example.com, the blocked host", &BLOCKED]),
        row([&"the blocked IPv6 host", &BLOCKED_V6]),
        row([&"the world resolver (configured)", &WORLD_RESOLVER]),
        row([&"a world resolver (not configured)", &UNCONFIGURED_RESOLVER]),
        row([&"test hosts' DNS answer", &HOSTS_DNS_ANSWER]),
        row([&"Docker's embedded DNS", &DOCKER_DNS]),
        row([&"SEQ-03's stale nat destination", &STALE_NAT_TARGET]),
        row([&"POL-03's forwarded target", &FORWARD_TARGET]),
        row([&"host on net A (gateway)", &NET_A_GATEWAY]),
        row([&"host on net A, IPv6", &NET_A_V6_GATEWAY]),
        row([&"container on net A", &CONTAINER_A]),
        row([&"container on net A, IPv6", &CONTAINER_A_V6]),
        row([&"host on net B (gateway)", &NET_B_GATEWAY]),
        row([&"container on net B", &CONTAINER_B]),
        row([&"svc, the sidecar", &SVC]),
        row([&"host on the transfer link", &TRANSFER_HOST]),
        row([&"host on the transfer link, IPv6", &TRANSFER_HOST_V6]),
        row([&"world on the transfer link", &TRANSFER_WORLD]),
        row([&"world on the transfer link, IPv6", &TRANSFER_WORLD_V6]),
    ]);
    table(out, &["host", "address"], &hosts);
}

fn ports_table(out: &mut String) {
    out.push_str("### Ports\n\n");
    let p = |what: &str, v: String| vec![what.to_owned(), v];
    table(
        out,
        &["what", "ports"],
        &[
            p(
                "peer echo listeners (container, svc, host)",
                PEER_PORT.to_string(),
            ),
            p("a high port with a world listener", HIGH_PORT.to_string()),
            p("the world's UDP echo", UDP_ECHO_PORT.to_string()),
            p("POL-03's forwarded target", FORWARD_PORT.to_string()),
            p("a closed port (topology checks)", CLOSED_PORT.to_string()),
            p(
                "world test hosts, TCP (443: HTTPS)",
                ports(&WORLD_TCP_PORTS),
            ),
            p("world test hosts, UDP (53: DNS)", ports(&WORLD_UDP_PORTS)),
            p(
                "container inbound listeners, TCP",
                ports(&INBOUND_TCP_PORTS),
            ),
            p(
                "container inbound listeners, UDP",
                ports(&INBOUND_UDP_PORTS),
            ),
        ],
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_lie_in_their_ranges() {
        assert!(GITHUB_WEB_V4.contains(&WEB_HOST) && GITHUB_WEB_V4.contains(&EXAMPLE_ALLOWLISTED));
        assert!(GITHUB_API_V4.contains(&API_HOST) && GITHUB_API_V4.contains(&API_HOST_REFUSING));
        assert!(GITHUB_API_V6.contains(&API_HOST_V6));
        assert!(GITHUB_GIT_V4.contains(&GIT_HOST));
        assert!(OTHER_KEY_V4[0].contains(&HOOKS_HOST) && OTHER_KEY_V4[1].contains(&ACTIONS_HOST));
        for (net, h) in VERCEL_V4.iter().zip(VERCEL_HOSTS) {
            assert!(net.contains(&h), "{h}");
        }
        for a in resolved_v4() {
            assert!(DOMAINS_V4.contains(&a) && !CATCH_ALL_V4.contains(&a), "{a}");
        }
        assert!(BLOCKED_NET_V4.contains(&BLOCKED) && BLOCKED_NET_V6.contains(&BLOCKED_V6));
        for a in [CONTAINER_A, NET_A_GATEWAY] {
            assert!(NET_A.contains(&a));
        }
        for a in [CONTAINER_B, NET_B_GATEWAY, SVC] {
            assert!(NET_B.contains(&a));
        }
        assert!(TRANSFER_V4.contains(&TRANSFER_HOST) && TRANSFER_V4.contains(&TRANSFER_WORLD));
    }

    #[test]
    fn the_markdown_names_every_network() {
        let md = markdown();
        for want in [
            "`192.0.2.0/26`",
            "`172.18.0.2`",
            "`br-a`",
            "41234",
            "`76.76.21.10`",
        ] {
            assert!(md.contains(want), "{want} missing:\n{md}");
        }
    }
}
