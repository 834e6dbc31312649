"""The client's address, decided in one place from one setting (NUM_PROXIES).

The audit log, allauth's sign-in and sign-up rate limits (through AccountAdapter.get_client_ip)
and the API throttles all call `client_ip`. Before, only the audit log read NUM_PROXIES and
allauth counted every request against the proxy's own address, so behind nginx one client's
failed sign-ins locked everybody out.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str | None:
    """REMOTE_ADDR, or the entry our own proxies added to X-Forwarded-For.

    With NUM_PROXIES = n, the n-th address from the right is the one the outermost trusted
    proxy saw; anything further left was written by the client and could be forged. With
    NUM_PROXIES = 0 the header is ignored altogether. None when the address is not an IP.
    """
    address = request.META.get("REMOTE_ADDR", "")
    hops = settings.NUM_PROXIES
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    forwarded = [part for part in forwarded if part]
    if hops > 0 and forwarded:
        address = forwarded[-min(hops, len(forwarded))]
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return None
