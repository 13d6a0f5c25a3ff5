"""Whom a request counts against: the client's address, an IPv6 client by its /64.

An IPv6 host is usually given a whole /64 (RFC 6177), so rotating through addresses inside it is free:
counted per address, one host got 15 of 15 posts past a limit of 10. IPv4 addresses (and IPv4 mapped
into IPv6, as a dual-stack socket reports them) are counted one by one.
"""

import ipaddress

IPV6_PREFIX = 64


def client_key(address):
    """The key a client address is counted under: "192.0.2.7", "2001:db8:1:2::/64", or the text as given
    when it is no IP address at all (a Unix socket, a test's placeholder)."""
    try:
        ip = ipaddress.ip_address((address or "").split("%", 1)[0])  # no zone index: fe80::1%eth0
    except ValueError:
        return address or "unknown"
    if ip.version == 6 and ip.ipv4_mapped:
        return str(ip.ipv4_mapped)
    if ip.version == 6:
        return str(ipaddress.ip_network(f"{ip}/{IPV6_PREFIX}", strict=False))
    return str(ip)
