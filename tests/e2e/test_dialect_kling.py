"""A client written for the official Kling API, pointed at this server: JWTs from an access-key
pair (made with PyJWT as Kling's own samples do), Kling's paths, envelope, codes and callbacks."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import httpx
import jwt
import pytest

from kirin_api import verify_webhook
from kirin_api.contract.errors import InvalidRequest
from tests.e2e.harness import Kirin, wait_for
from tests.file_server import FileServer
from tests.media_factory import b64, image_bytes
from tests.unit.contract.test_custom_elements_contract import FAILING as ELEMENTS_FAILING
from tests.unit.contract.test_i2v_contract import FAILING as I2V_FAILING
from tests.unit.contract.test_motion_control_contract import FAILING as MOTION_FAILING
from tests.unit.contract.test_multi_i2v_contract import FAILING as MULTI_FAILING
from tests.unit.contract.test_t2v_contract import FAILING as T2V_FAILING
from tests.unit.contract.test_v3_i2v_contract import FAILING as V3_FAILING
from tests.webhook_receiver import receive

KIRIN_ENV = {
    "KIRIN_ALLOW_PRIVATE_NETWORKS": "true",
    "KIRIN_WEBHOOK_RETRY_SCHEDULE": "0.2,0.4,0.8",
}
JSON = {"Content-Type": "application/json"}
T2V = "/v1/videos/text2video"
I2V = "/v1/videos/image2video"
ELEMENTS = "/v1/general/advanced-custom-elements"
# Our model -> the Kling path and model_name a Kling client uses for it.
KLING_ROUTE = {
    "kirin_v1_t2v": (T2V, "kling-v1"),
    "kirin_v1_i2v": (I2V, "kling-v1-6"),
    "kirin_v1_6_multi_i2v": ("/v1/videos/multi-image2video", "kling-v1-6"),
    "kirin_v3_i2v": (I2V, "kling-v3"),
    "kirin_v3_motion_control": ("/v1/videos/motion-control", "kling-v2-6"),
    "kirin_custom_elements": (ELEMENTS, None),
}


def token(access_key: str, secret_key: str, *, exp: float = 1800, nbf: float = -5) -> str:
    """A token as Kling's official Python sample makes one."""
    now = int(time.time())
    claims = {"iss": access_key, "exp": int(now + exp), "nbf": int(now + nbf)}
    return jwt.encode(claims, secret_key, headers={"alg": "HS256", "typ": "JWT"})


def kling_client(kirin: Kirin, bearer: str | None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
    return httpx.Client(base_url=kirin.base_url, headers=headers, timeout=30)


def new_pair(kirin: Kirin, account: str = "default") -> tuple[str, str]:
    access_key, secret_key = kirin.cli("keys", "create", "--kling", "--account", account).split()
    return access_key, secret_key


@pytest.fixture(scope="module")
def pair(kirin: Kirin) -> tuple[str, str]:
    return new_pair(kirin)


@pytest.fixture
def kling(kirin: Kirin, pair: tuple[str, str]) -> Iterator[httpx.Client]:
    with kling_client(kirin, token(*pair)) as client:
        yield client


def ok(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["code"], body["message"]) == (0, "SUCCEED")
    assert len(body["request_id"]) == 36
    return body["data"]


def refused(response: httpx.Response, status: int, code: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code, body
    assert "data" not in body
    assert body["request_id"]
    message: str = body["message"]
    return message


def poll(client: httpx.Client, path: str, task_id: str, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        data: dict[str, Any] = ok(client.get(f"{path}/{task_id}"))
        if data["task_status"] in ("succeed", "failed"):
            return data
        time.sleep(0.2)
    raise AssertionError(f"{task_id} did not finish")


def test_a_kling_client_makes_a_video_and_the_kirin_dialect_sees_the_same_task(
    kirin: Kirin, kling: httpx.Client, tmp_path: Path
) -> None:
    body = {
        "model_name": "kling-v1",
        "prompt": "a red fox running through snow",
        "aspect_ratio": "9:16",
        "duration": "5",
        "watermark_info": {"enabled": True},
        "external_task_id": "fox-1",
    }
    created = ok(kling.post(T2V, json=body))
    assert created["task_status"] == "submitted"
    assert created["task_info"] == {"external_task_id": "fox-1"}
    assert created["created_at"] > 1_000_000_000_000  # milliseconds
    done = poll(kling, T2V, created["task_id"])
    assert done["task_status"] == "succeed"
    assert done["final_unit_deduction"] == "0.1400"
    assert done["watermark_info"] == {"enabled": True}
    video = done["task_result"]["videos"][0]
    assert video["duration"] == "5.0"
    path = tmp_path / "fox.mp4"
    path.write_bytes(httpx.get(video["url"], timeout=30).content)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert (stream.width, stream.height, stream.frames) == (720, 1280, 150)
    assert httpx.get(video["watermark_url"], timeout=30).status_code == 200
    with kirin.client(kirin.create_key()) as plain:
        same = plain.get(f"/model/v1/generation/task/{created['task_id']}").json()
    assert (same["model"], same["status"], same["external_task_id"]) == (
        "kirin_v1_t2v",
        "completed",
        "fox-1",
    )


def test_a_plain_api_key_is_a_kling_bearer_token(kirin: Kirin) -> None:
    with kling_client(kirin, kirin.create_key()) as client:
        created = ok(client.post(T2V, json={"prompt": "a lantern"}))
        assert created["task_status"] == "submitted"


def test_tasks_are_found_by_external_task_id_in_the_path_or_the_query(
    kling: httpx.Client,
) -> None:
    created = ok(kling.post(T2V, json={"prompt": "a paper boat", "external_task_id": "boat-7"}))
    by_path = ok(kling.get(f"{T2V}/boat-7"))
    by_query = ok(kling.get(T2V, params={"external_task_id": "boat-7"}))
    assert by_path["task_id"] == by_query["task_id"] == created["task_id"]
    refused(kling.get(f"{I2V}/boat-7"), 404, 1203)  # another product's path
    refused(kling.get(f"{T2V}/no-such-task"), 404, 1203)
    again = kling.post(T2V, json={"prompt": "a second boat", "external_task_id": "boat-7"})
    assert "boat-7" in refused(again, 409, 1201)


def test_lists_are_numbered_pages_of_one_product_newest_first(kirin: Kirin) -> None:
    with kling_client(kirin, token(*new_pair(kirin, account="lister"))) as client:
        ids = [ok(client.post(T2V, json={"prompt": f"scene {n}"}))["task_id"] for n in range(3)]
        first = ok(client.get(T2V, params={"pageNum": 1, "pageSize": 2}))
        second = ok(client.get(T2V, params={"pageNum": 2, "pageSize": 2}))
        assert [t["task_id"] for t in first + second] == ids[::-1]
        assert ok(client.get(I2V)) == []
        assert "pageSize" in refused(client.get(T2V, params={"pageSize": 501}), 400, 1201)
        refused(client.get(T2V, params={"pageNum": 0}), 400, 1201)


def test_model_name_picks_the_model_and_nothing_is_dropped(
    kirin: Kirin, kling: httpx.Client
) -> None:
    picture = b64(image_bytes(640, 360))
    v3 = ok(kling.post(I2V, json={"model_name": "kling-v3", "image": picture, "prompt": "go"}))
    with kirin.client(kirin.create_key()) as plain:
        assert plain.get(f"/model/v1/generation/task/{v3['task_id']}").json()["model"] == (
            "kirin_v3_i2v"
        )
    unknown = kling.post(T2V, json={"model_name": "kling-v2-master", "prompt": "x"})
    message = refused(unknown, 400, 1201)
    assert "model_name" in message
    assert "kling-v1-6" in message
    voices = kling.post(T2V, json={"prompt": "x", "voice_list": [{"voice_id": "v"}]})
    assert "voice_list" in refused(voices, 400, 1201)
    cfg = kling.post(I2V, json={"model_name": "kling-v3", "image": picture, "cfg_scale": 0.5})
    assert "cfg_scale" in refused(cfg, 400, 1201)
    refused(kling.post(T2V, content=b"not json"), 400, 1200)


def _kling_case(model: str, body: object) -> tuple[str, object]:
    path, model_name = KLING_ROUTE[model]
    if not isinstance(body, dict):
        return path, body
    kling_body = {k: v for k, v in body.items() if k != "model"}
    if model_name is not None:
        kling_body["model_name"] = model_name
    return path, kling_body


def _is_json(body: object) -> bool:
    """Whether ``body`` can be sent as JSON at all (NaN cannot: that case is the contract's)."""
    try:
        json.dumps(body, allow_nan=False)
    except ValueError:
        return False
    return True


RULES = [
    (model, case)
    for model, cases in (
        ("kirin_v1_t2v", T2V_FAILING),
        ("kirin_v1_i2v", I2V_FAILING),
        ("kirin_v1_6_multi_i2v", MULTI_FAILING),
        ("kirin_v3_i2v", V3_FAILING),
        ("kirin_v3_motion_control", MOTION_FAILING),
        ("kirin_custom_elements", ELEMENTS_FAILING),
    )
    for case in cases
    # Cases about the Kirin body's own "model" field have no Kling counterpart (the path and
    # model_name choose the model).
    if case[3] != "model"
    and not (isinstance(case[1], dict) and "model" not in case[1])
    and _is_json(case[1])
]


def test_every_rule_of_every_model_is_enforced_through_the_kling_paths(
    kling: httpx.Client,
) -> None:
    assert len(RULES) > 150
    seen_models = set()
    for model, (name, body, error, param, words) in RULES:
        path, kling_body = _kling_case(model, body)
        # As JSON even where the body is null (httpx would send no body for json=None).
        response = kling.post(path, content=json.dumps(kling_body), headers=JSON)
        assert response.status_code == 400, (model, name, response.text)
        answer = response.json()
        assert answer["code"] == (1200 if error is InvalidRequest else 1201), (model, name)
        for word in (param or "", *words):
            assert word in answer["message"], (model, name, word, answer["message"])
        seen_models.add(model)
    assert seen_models == set(KLING_ROUTE)


BAD_TOKENS = [
    ("missing", lambda ak, sk: None, 1001),
    ("not a bearer", lambda ak, sk: "Basic", 1002),
    ("not a jwt", lambda ak, sk: "abc.def", 1002),
    ("unsigned", lambda ak, sk: jwt.encode({"iss": ak, "exp": 2e9}, None, "none"), 1002),
    ("wrong secret", lambda ak, sk: token(ak, "sk_not_the_secret_key_of_this_access_key"), 1000),
    ("unknown access key", lambda ak, sk: token("ak_" + "0" * 32, sk), 1000),
    ("expired", lambda ak, sk: token(ak, sk, exp=-30, nbf=-60), 1004),
    ("not yet valid", lambda ak, sk: token(ak, sk, nbf=60), 1003),
    ("unknown api key", lambda ak, sk: "kirin_sk_" + "A" * 43, 1000),
]


@pytest.mark.parametrize(("case", "make", "code"), BAD_TOKENS, ids=[t[0] for t in BAD_TOKENS])
def test_bad_tokens_get_their_code(
    kirin: Kirin, pair: tuple[str, str], case: str, make: Any, code: int
) -> None:
    bearer = make(*pair)
    headers = {} if bearer is None else {"Authorization": f"Bearer {bearer}"}
    if bearer == "Basic":
        headers = {"Authorization": "Basic dXNlcjpwYXNz"}
    response = httpx.get(kirin.base_url + T2V, headers=headers)
    refused(response, 401, code)


def test_clock_skew_within_five_seconds_is_forgiven(kirin: Kirin, pair: tuple[str, str]) -> None:
    for skewed in (token(*pair, exp=-2, nbf=-60), token(*pair, nbf=2)):
        with kling_client(kirin, skewed) as client:
            assert client.get(T2V).status_code == 200


def test_a_revoked_pair_is_refused_at_once(kirin: Kirin) -> None:
    access_key, secret_key = new_pair(kirin)
    with kling_client(kirin, token(access_key, secret_key)) as client:
        assert client.get(T2V).status_code == 200
        kirin.cli("keys", "revoke", access_key)
        refused(client.get(T2V), 401, 1000)


def test_a_failed_task_reads_as_kling_failed_and_carries_both_message_keys(
    kirin: Kirin, kling: httpx.Client, files: FileServer
) -> None:
    missing = files.base_url + "/missing.png"
    created = ok(kling.post(I2V, json={"image": missing, "prompt": "never"}))
    failed = poll(kling, I2V, created["task_id"])
    assert failed["task_status"] == "failed"
    assert "image" in failed["task_status_msg"]
    assert "002002097" in failed["task_status_msg"]
    with kirin.client(kirin.create_key()) as plain:
        error = plain.get(f"/model/v1/generation/task/{created['task_id']}").json()["error"]
    assert error["code"] == "002002097"
    assert error["message"] == error["error_message"]
    assert "image" in error["message"]


def test_kling_tasks_call_back_with_kling_task_data_signed(
    kirin: Kirin, kling: httpx.Client
) -> None:
    with receive() as receiver:
        created = ok(kling.post(T2V, json={"prompt": "a comet", "callback_url": receiver.url}))
        hits = receiver.wait_for(
            lambda hits: any(h.json["task_status"] == "succeed" for h in hits), timeout=60
        )
    statuses = [hit.json["task_status"] for hit in hits]
    assert statuses == ["submitted", "processing", "succeed"]
    last = hits[-1].json
    assert "code" not in last
    assert last["task_id"] == created["task_id"]
    assert last["task_result"]["videos"][0]["duration"] == "5.0"
    with kirin.client(kirin.create_key()) as plain:
        secret = plain.get("/model/v1/webhook-secret").json()["secret"]
    verify_webhook(secret, hits[-1].headers, hits[-1].body)


def test_elements_are_made_and_used_through_the_kling_paths(kling: httpx.Client) -> None:
    body = {
        "element_name": "fox",
        "element_description": "a red fox",
        "reference_type": "image_refer",
        "element_image_list": {
            "frontal_image": b64(image_bytes(400, 400, seed=1)),
            "refer_images": [{"image_url": b64(image_bytes(400, 400, seed=2))}],
        },
    }
    created = ok(kling.post(ELEMENTS, json=body))
    done = poll(kling, ELEMENTS, created["task_id"])
    element = done["task_result"]["elements"][0]
    assert isinstance(element["element_id"], int)
    assert (element["element_name"], element["status"]) == ("fox", "succeed")
    used = kling.post(
        I2V,
        json={
            "model_name": "kling-v3",
            "image": b64(image_bytes(640, 360)),
            "prompt": "<<<element_1>>> runs",
            "element_list": [{"element_id": element["element_id"]}],
        },
    )
    assert ok(used)["task_status"] == "submitted"
    model_name = kling.post(ELEMENTS, json={**body, "model_name": "kling-v1"})
    assert "model_name" in refused(model_name, 400, 1201)


def test_limits_answer_in_kling_codes(fresh_kirin: Kirin) -> None:
    fresh_kirin.env.update({"KIRIN_RATE_LIMIT_PER_MINUTE": "60", "KIRIN_RATE_LIMIT_BURST": "3"})
    fresh_kirin.start_server(workers=0)
    fresh_kirin.cli("accounts", "create", "broke", "--balance", "0")
    fresh_kirin.cli("accounts", "create", "busy")
    fresh_kirin.cli("accounts", "set-limit", "busy", "--max-unfinished", "1")
    with kling_client(fresh_kirin, token(*new_pair(fresh_kirin, "broke"))) as broke:
        assert "balance" in refused(broke.post(T2V, json={"prompt": "x"}), 429, 1102)
    with kling_client(fresh_kirin, token(*new_pair(fresh_kirin, "busy"))) as busy:
        first = ok(busy.post(T2V, json={"prompt": "waits in the queue"}))
        refused(busy.post(T2V, json={"prompt": "one too many"}), 429, 1303)
        with fresh_kirin.client(fresh_kirin.create_key("busy")) as plain:
            cancel = plain.post(f"/model/v1/generation/task/{first['task_id']}/cancel")
            assert wait_for(plain, first["task_id"])["status"] == "cancelled", cancel.text
        cancelled = ok(busy.get(f"{T2V}/{first['task_id']}"))
        assert (cancelled["task_status"], cancelled["task_status_msg"]) == (
            "failed",
            "task was cancelled",
        )
        for _ in range(10):  # the burst is 3; a few seconds above may have refilled some
            limited = busy.get(T2V)
            if limited.status_code == 429:
                break
        refused(limited, 429, 1302)
        assert int(limited.headers["retry-after"]) >= 1


def test_secret_keys_are_sealed_and_the_server_secret_key_rotates(fresh_kirin: Kirin) -> None:
    access_key, secret_key = new_pair(fresh_kirin)
    assert access_key.startswith("ak_")
    assert secret_key.startswith("sk_")
    database = (fresh_kirin.data_dir / "kirin.db").read_bytes()
    assert access_key.encode() in database
    assert secret_key.encode() not in database
    old_key = (fresh_kirin.data_dir / "secret-key").read_text().strip()
    new_key = fresh_kirin.cli("keys", "new-server-secret").strip()
    # Step 1: the new key seals, the old one still opens; step 2: reseal; step 3: old key gone.
    fresh_kirin.env.update({"KIRIN_SECRET_KEY": new_key, "KIRIN_PREVIOUS_SECRET_KEYS": old_key})
    fresh_kirin.cli("keys", "reseal")
    del fresh_kirin.env["KIRIN_PREVIOUS_SECRET_KEYS"]
    fresh_kirin.start_server(workers=0)
    with kling_client(fresh_kirin, token(access_key, secret_key)) as client:
        assert client.get(T2V).status_code == 200
    log = fresh_kirin.log_path.read_text()
    assert secret_key not in log
    assert new_key not in log


def test_a_server_without_the_sealing_key_refuses_and_says_so_in_its_log(
    fresh_kirin: Kirin,
) -> None:
    access_key, secret_key = new_pair(fresh_kirin)
    fresh_kirin.env["KIRIN_SECRET_KEY"] = "another-server-secret-key-of-32-characters"
    fresh_kirin.start_server(workers=0)
    with kling_client(fresh_kirin, token(access_key, secret_key)) as client:
        message = refused(client.get(T2V), 401, 1000)
    assert "signature" in message
    assert "KIRIN_PREVIOUS_SECRET_KEYS" in fresh_kirin.log_path.read_text()
