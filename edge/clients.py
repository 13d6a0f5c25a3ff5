"""Whom a request counts against: the client's address, an IPv6 client by its /64.

An IPv6 host is usually given a whole /64 (RFC 6177), so rotating through addresses inside it is free:
counted per address, one host got 15 of 15 posts past a limit of 10. IPv4 addresses (and IPv4 mapped
into IPv6, as a dual-stack socket reports them) are counted one by one.
"""

import ipaddress

IPV6_PREFIX = 64


def client_key(address):
    """The key a client address is counted under: "192.0.2.7", "2001:db8:1:2::/64", or "unknown" for
    anything that is no IP address (a Unix socket's peer, or a forwarded value such as "198.051.100.077"
    or "garbage": each spelling of its own would be a fresh bucket, so they all share one)."""
    text = (address or "").strip().removeprefix("[").removesuffix("]")  # "[2001:db8::1]" as some proxies write
    try:
        ip = ipaddress.ip_address(text.split("%", 1)[0])  # no zone index: fe80::1%eth0
    except ValueError:
        return "unknown"
    if ip.version == 6 and ip.ipv4_mapped:
        return str(ip.ipv4_mapped)
    if ip.version == 6:
        return str(ipaddress.ip_network(f"{ip}/{IPV6_PREFIX}", strict=False))
    return str(ip)
