"""Checks at submit that need more than the contract: decoding base64 media, the account's
elements. URL media are fetched and checked later by the worker (through the SSRF-safe fetcher),
so a request never makes the API process reach out to a user's URL."""

from __future__ import annotations

from kirin_api.contract.errors import InvalidParameter
from kirin_api.contract.media import ImageRules, MediaFacts
from kirin_api.contract.registry import ValidatedRequest, check_media_relations, media_refs
from kirin_api.media.images import decode_base64_image
from kirin_api.store.base import Account, TaskStore


def has_checks(request: ValidatedRequest) -> bool:
    """Whether :func:`check_submission` would block: base64 media to decode or elements to look
    up. Without either it is quick and pure, fit for the event loop's thread."""
    if request.params.get("element_list"):
        return True
    return any(not ref.is_url for ref in media_refs(request.model, request.params))


def check_submission(request: ValidatedRequest, account: Account, store: TaskStore) -> None:
    """Raise ``InvalidMedia``/``InvalidParameter`` (400) for what can be refused at once."""
    facts: dict[str, MediaFacts] = {}
    for ref in media_refs(request.model, request.params):
        if ref.is_url:
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
