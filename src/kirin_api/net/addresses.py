"""Which addresses a user's URL may reach: the rules live in :mod:`kirin_api.contract.addresses`
(pure checks, no I/O), so that the API can refuse an address literal at submit without importing
the network side; the fetcher uses them from here."""

from kirin_api.contract.addresses import IPAddress, blocked_reason, parse_ip_host

__all__ = ["IPAddress", "blocked_reason", "parse_ip_host"]
