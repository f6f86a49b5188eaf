"""Checks at submit that need more than the contract: decoding base64 media, the account's
elements, the addresses of media URLs. URL media are fetched and checked later by the worker
(through the SSRF-safe fetcher), so a request never makes the API process reach out to a user's
URL; but a URL whose host *is* a refused address (an IP literal in any spelling, or
``localhost``) is refused here, as ``callback_url`` is, instead of failing later with ``...097``.
Names are not resolved here (no DNS in a request): the worker checks every answer."""

from __future__ import annotations

import httpx

from kirin_api.contract.addresses import PRIVATE_ADDRESS_HINT, blocked_reason, parse_ip_host
from kirin_api.contract.errors import InvalidParameter
from kirin_api.contract.media import ImageRules, MediaFacts
from kirin_api.contract.registry import ValidatedRequest, check_media_relations, media_refs
from kirin_api.media.images import decode_base64_image
from kirin_api.server.upload_refs import upload_facts
from kirin_api.storage.upload_links import parse_upload_url
from kirin_api.store.base import Account, TaskStore


def has_checks(request: ValidatedRequest, url_secret: bytes | None) -> bool:
    """Whether :func:`check_submission` would block: base64 media to decode, or uploads or
    elements to look up. Without any it is quick and pure, fit for the event loop's thread."""
    if request.params.get("element_list"):
        return True
    return any(
        not ref.is_url
        or (url_secret is not None and parse_upload_url(ref.value, url_secret) is not None)
        for ref in media_refs(request.model, request.params)
    )


def check_submission(
    request: ValidatedRequest,
    account: Account,
    store: TaskStore,
    url_secret: bytes | None = None,
    *,
    allow_private: bool = False,
) -> None:
    """Raise ``InvalidMedia``/``InvalidParameter`` (400) for what can be refused at once
    (``url_secret``: also the uploads that URLs name, see :mod:`.upload_refs`)."""
    facts: dict[str, MediaFacts] = {}
    for ref in media_refs(request.model, request.params):
        if ref.is_url:
            found = None if url_secret is None else upload_facts(ref, account, store, url_secret)
            if found is not None:
                # An upload of this account is read from storage, never fetched: its host
                # (this server, often a private address) is not checked.
                facts[ref.param] = found
            else:
                check_media_address(ref.value, ref.param, allow_private=allow_private)
            continue
        if not isinstance(ref.rules, ImageRules):
            raise InvalidParameter(f"{ref.param} must be an http(s) URL", param=ref.param)
        _, facts[ref.param] = decode_base64_image(ref.value, ref.rules, ref.param)
    check_media_relations(request.model, request.params, facts)
    for index, item in enumerate(request.params.get("element_list") or []):
        element_id = int(item["element_id"])
        if store.get_element(account.id, element_id) is None:
            raise InvalidParameter(
                f"element_list.{index}.element_id: no element {element_id} in this account; "
                "create one with the model kirin_custom_elements",
                param=f"element_list.{index}.element_id",
            )


def check_media_address(url: str, param: str, *, allow_private: bool) -> None:
    """Refuse a media URL whose host is a refused address literal (or ``localhost``)."""
    try:
        host = httpx.URL(url).host.lower().rstrip(".")
        literal = parse_ip_host(host)
    except (httpx.InvalidURL, ValueError):
        # The contract checked the URL's shape; an odd numeric host is the worker's to refuse.
        return
    if literal is not None:
        reason = blocked_reason(literal, allow_private=allow_private)
        shown = str(literal)
    elif not allow_private and (host == "localhost" or host.endswith(".localhost")):
        reason, shown = "loopback", repr(host)
    else:
        return
    if reason is not None:
        raise InvalidParameter(
            f"{param}: refused address {shown} ({reason}); media URLs must be on public "
            f"addresses{PRIVATE_ADDRESS_HINT}",
            param=param,
        )
