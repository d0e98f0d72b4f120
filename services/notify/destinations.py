"""Where a webhook may be sent (pure): the scheme, and every address its host resolves to.

A webhook URL is the applicant's (or integrator's) input, so notify must not become a way into the
agency's own network (SSRF). At send time the host is resolved and EVERY address is checked: an
address that is loopback, private (RFC 1918, fc00::/7), link-local (169.254/16 with the cloud
metadata address, fe80::/10), shared (CGNAT 100.64/10), unspecified, multicast, reserved or
otherwise not globally routable refuses the delivery (an IPv6 address embedding an IPv4 one —
mapped, NAT64, 6to4, Teredo — is judged by the embedded one too). The sender then connects to
the checked address itself (``senders.WebhookSender``), so a DNS answer that changes between the
check and the connection cannot bypass it.

In production only ``https`` is accepted. ``NOTIFY_WEBHOOK_ALLOW_HOSTS`` lists destinations let
through the address check (never the scheme rule): ``host``, ``host:port``, ``[v6]:port``, an
address, or a CIDR network — for the local stack's sink and for tests.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_SHARED = ipaddress.ip_network("100.64.0.0/10")  # RFC 6598 carrier-grade NAT
_METADATA = ipaddress.ip_address("169.254.169.254")
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))


class Refused(Exception):
    """A destination notify will never send to: recorded on the delivery, not retried."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _embedded_v4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    if not isinstance(ip, ipaddress.IPv6Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if any(ip in net for net in _NAT64):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def blocked(ip: IPAddress) -> str | None:
    """Why an address may not receive a webhook (None: a public address)."""
    inner = _embedded_v4(ip)
    if inner is not None:
        why = blocked(inner)
        if why is not None:
            return f"{why} (embedded in {ip})"
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_loopback:
        return "loopback"
    if ip == _METADATA:
        return "link-local (cloud metadata)"
    if ip.is_link_local:
        return "link-local"
    if ip.is_multicast:
        return "multicast"
    if isinstance(ip, ipaddress.IPv4Address) and ip in _SHARED:
        return "shared address space (CGNAT)"
    if ip.is_reserved:
        return "reserved"
    if ip.is_private:
        return "private"
    if not ip.is_global:
        return "not globally routable"
    return None


def _port(text: str) -> int:
    port = int(text)
    if not 0 < port < 65536:
        raise ValueError(f"port out of range: {text}")
    return port


@dataclass(frozen=True)
class AllowList:
    """``NOTIFY_WEBHOOK_ALLOW_HOSTS``: destinations exempt from the address check."""

    names: frozenset[tuple[str, int | None]] = frozenset()  # (host name, port or any)
    addresses: frozenset[tuple[IPAddress, int | None]] = frozenset()
    networks: tuple[IPNetwork, ...] = field(default=())

    @classmethod
    def parse(cls, setting: str) -> AllowList:
        names: set[tuple[str, int | None]] = set()
        addresses: set[tuple[IPAddress, int | None]] = set()
        networks: list[IPNetwork] = []
        for raw in (setting or "").split(","):
            entry = raw.strip().lower()
            if not entry:
                continue
            try:
                if "/" in entry:
                    networks.append(ipaddress.ip_network(entry, strict=False))
                    continue
                if entry.startswith("["):  # [v6] or [v6]:port
                    host, closed, rest = entry[1:].partition("]")
                    if not closed:
                        raise ValueError(entry)
                    port = _port(rest[1:]) if rest.startswith(":") else None
                    if rest and not rest.startswith(":"):
                        raise ValueError(entry)
                    addresses.add((ipaddress.ip_address(host), port))
                    continue
                try:
                    addresses.add((ipaddress.ip_address(entry), None))  # a bare v4 or v6 address
                    continue
                except ValueError:
                    pass
                host, sep, port_text = entry.rpartition(":")
                if not sep:
                    host, port = entry, None
                else:
                    port = _port(port_text)
                try:
                    addresses.add((ipaddress.ip_address(host), port))
                except ValueError:
                    if not host or any(c in host for c in "/@?#[] "):
                        raise ValueError(entry) from None
                    names.add((host.rstrip("."), port))
            except ValueError as exc:
                raise ValueError(f"NOTIFY_WEBHOOK_ALLOW_HOSTS: invalid entry {raw.strip()!r}") from exc
        return cls(frozenset(names), frozenset(addresses), tuple(networks))

    def allows(self, host: str, port: int, ip: IPAddress) -> bool:
        name = host.lower().rstrip(".")
        if (name, port) in self.names or (name, None) in self.names:
            return True
        if (ip, port) in self.addresses or (ip, None) in self.addresses:
            return True
        return any(ip in net for net in self.networks if net.version == ip.version)


@dataclass(frozen=True)
class Target:
    """A webhook URL taken apart: what to resolve, and what to tell the server (Host, SNI)."""

    scheme: str
    host: str  # the name (IDNA, lower case) or the address, without brackets
    port: int


DEFAULT_PORTS = {"http": 80, "https": 443}


def check_scheme(scheme: str, host: str, port: int | None, production: bool) -> Target:
    if scheme not in DEFAULT_PORTS:
        raise Refused(f"scheme {scheme or '(none)'} not allowed (http or https only)")
    if production and scheme != "https":
        raise Refused("https required in production")
    if not host:
        raise Refused("no host in the URL")
    return Target(scheme, host.lower(), port or DEFAULT_PORTS[scheme])


def check_addresses(target: Target, addresses: list[IPAddress], allow: AllowList) -> IPAddress:
    """The address to connect to, if every resolved address may receive the webhook."""
    if not addresses:
        raise Refused(f"{target.host} resolves to no address")
    for ip in addresses:
        why = blocked(ip)
        if why is not None and not allow.allows(target.host, target.port, ip):
            raise Refused(f"address {ip} of {target.host} not allowed: {why}")
    return addresses[0]
