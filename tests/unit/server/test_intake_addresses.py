"""A media URL whose host is a refused address literal is a 400 at submit, as callback_url is."""

from __future__ import annotations

import pytest

from kirin_api.contract.errors import InvalidParameter
from kirin_api.server.intake import check_media_address


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1/a.png", "loopback"),
        ("http://0x7f.1/a.png", "loopback"),
        ("http://2130706433/a.png", "loopback"),
        ("http://10.1.2.3:8080/a.png", "private"),
        ("http://[::ffff:192.168.0.1]/a.png", "private"),
        ("http://169.254.169.254/latest/meta-data", "metadata"),
        ("http://[fe80::1]/a.png", "link-local"),
        ("http://localhost/a.png", "loopback"),
    ],
)
def test_refused_literals(url: str, reason: str) -> None:
    with pytest.raises(InvalidParameter) as caught:
        check_media_address(url, "dynamic_masks.0.mask", allow_private=False)
    assert caught.value.param == "dynamic_masks.0.mask"
    assert caught.value.message.startswith("dynamic_masks.0.mask: refused address")
    assert reason in caught.value.message


def test_names_and_public_addresses_wait_for_the_worker() -> None:
    check_media_address("https://cdn.example.com/a.png", "image", allow_private=False)
    check_media_address("http://93.184.216.34/a.png", "image", allow_private=False)


def test_the_private_networks_setting_allows_private_but_never_metadata() -> None:
    check_media_address("http://127.0.0.1/a.png", "image", allow_private=True)
    with pytest.raises(InvalidParameter, match="metadata"):
        check_media_address("http://169.254.169.254/", "image", allow_private=True)
