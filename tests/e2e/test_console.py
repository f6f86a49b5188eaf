"""The web console at ``/`` in a real browser: Debian's Chromium driven by Playwright.

One server (with one worker) and one browser for the module; each test has a fresh page.
What the page sends is checked on the server's side (the stored task's parameters), not only
in the page. ``KIRIN_CONSOLE_SCREENSHOTS=docs/images`` refreshes the screenshots of
docs/console.md.
"""

from __future__ import annotations

import base64
import io
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image

from tests.e2e.harness import Kirin
from tests.media_factory import image_bytes, video_file

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

pytestmark = pytest.mark.slow

CHROMIUM = os.environ.get("KIRIN_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
RENDER_TIMEOUT_MS = 120_000
IMAGE_SIZE = (640, 400)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        pytest.skip(f"no Chromium at {CHROMIUM}: install Debian's chromium (.ci/run does)")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def key(kirin: Kirin) -> str:
    return kirin.create_key(account="console")


@pytest.fixture
def page(browser: Any, kirin: Kirin) -> Iterator[Any]:
    """A fresh tab at 1280x800 that fails the test on any script error or foreign request."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    tab = context.new_page()
    problems: list[str] = []
    tab.on("pageerror", lambda error: problems.append(f"script error: {error}"))
    tab.on(
        "request",
        lambda request: (
            None
            if request.url.startswith((kirin.base_url, "blob:", "data:"))
            else problems.append(f"request to another origin: {request.url}")
        ),
    )
    tab.on(
        "console",
        lambda message: (
            problems.append(f"console: {message.text}")
            if "Content Security Policy" in message.text
            else None
        ),
    )
    yield tab
    context.close()
    assert not problems, problems


def _shot(tab: Any, name: str, part: str | None = None) -> None:
    """A screenshot for docs/console.md (of one part of the page where given)."""
    folder = os.environ.get("KIRIN_CONSOLE_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        path = str(Path(folder) / f"console-{name}.png")
        if part:
            tab.locator(part).first.screenshot(path=path)
        else:
            tab.screenshot(path=path)


def _sign_in(tab: Any, kirin: Kirin, key: str) -> None:
    tab.goto(kirin.base_url + "/")
    tab.get_by_label("API key").fill(key)
    tab.get_by_role("button", name="Use key").click()
    expect(tab.locator("#console")).to_be_visible()


def _field(tab: Any, *path: str) -> Any:
    """The widget of a parameter, by its path in the form (nested objects by name)."""
    scope = tab.locator("#fields")
    for name in path:
        scope = scope.locator(f'[data-param="{name}"]').first
    return scope


def _stored_params(kirin: Kirin, task_id: str) -> dict[str, Any]:
    store = kirin.store()
    account = store.get_account("console")
    assert account is not None
    record = store.get_task(account.id, task_id)
    assert record is not None
    return record.params


def _task_id(tab: Any) -> str:
    article = tab.locator("#current-task article.task")
    expect(article).to_have_attribute("data-task-id", re.compile("^task_"))
    task_id: str = article.get_attribute("data-task-id")
    return task_id


def test_the_page_is_served_with_a_strict_policy_and_keeps_the_api_intact(kirin: Kirin) -> None:
    page = httpx.get(kirin.base_url + "/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "default-src 'none'" in policy
    assert "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy
    script = httpx.get(kirin.base_url + "/console/app.js")
    assert script.headers["content-type"].startswith("text/javascript")
    again = httpx.get(
        kirin.base_url + "/console/app.js", headers={"If-None-Match": script.headers["etag"]}
    )
    assert again.status_code == 304
    for path in ["/console/nothing.js", "/console/../pyproject.toml", "/nowhere"]:
        missing = httpx.get(kirin.base_url + path)
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "not_found"
    refused = httpx.post(kirin.base_url + "/")
    assert refused.status_code == 405
    assert refused.headers["allow"] == "GET, HEAD"
    assert "/" not in httpx.get(kirin.base_url + "/openapi.json").json()["paths"]


def test_a_key_is_checked_and_kept_in_the_tab_only(page: Any, kirin: Kirin, key: str) -> None:
    page.goto(kirin.base_url + "/")
    _shot(page, "key")
    page.get_by_label("API key").fill("kirin_sk_" + "x" * 43)
    page.get_by_role("button", name="Use key").click()
    expect(page.locator("#key-status .code")).to_have_text("unauthorized")
    expect(page.locator("#console")).to_be_hidden()

    _sign_in(page, kirin, key)
    assert page.evaluate("sessionStorage.getItem('kirin.apiKey')") == key
    assert page.evaluate("localStorage.length") == 0
    assert page.context.cookies() == []
    assert page.get_by_label("API key").input_value() == ""
    page.reload()  # the same tab keeps it
    expect(page.locator("#console")).to_be_visible()
    # Every control of the form has a label.
    unlabelled = page.evaluate(
        """[...document.querySelectorAll('input, select, textarea')]
             .filter(c => c.type !== 'hidden' && !c.labels.length && !c.getAttribute('aria-label'))
             .map(c => c.outerHTML)"""
    )
    assert unlabelled == []
    page.get_by_role("button", name="Forget key").click()
    expect(page.locator("#console")).to_be_hidden()
    assert page.evaluate("sessionStorage.getItem('kirin.apiKey')") is None


def test_a_400_is_shown_next_to_the_field_it_names(page: Any, kirin: Kirin, key: str) -> None:
    _sign_in(page, kirin, key)
    page.locator("#model").select_option("kirin_v1_t2v")
    _field(page, "prompt").locator("textarea").fill("a lighthouse at night")
    _field(page, "mode").locator("select").select_option("pro")
    camera = _field(page, "camera_control")
    camera.get_by_label("Set camera_control").check()
    camera.locator('[data-param="type"] select').select_option("down_back")
    page.get_by_role("button", name="Generate").click()
    error = camera.locator(".field-error").first
    expect(error).to_contain_text("invalid_parameter")
    expect(error).to_contain_text("std")
    expect(page.locator("#form-errors .code")).to_have_text("invalid_parameter")
    _shot(page, "error", '#fields [data-param="camera_control"]')
    # Checked in the browser before sending: an empty required prompt never reaches the server.
    _field(page, "prompt").locator("textarea").fill("")
    page.get_by_role("button", name="Generate").click()
    expect(_field(page, "prompt").locator(".field-error")).to_be_visible()
    expect(_field(page, "prompt").locator("textarea")).to_have_attribute("aria-invalid", "true")


def _wait_finished(page: Any) -> str:
    article = page.locator("#current-task article.task")
    expect(article).to_have_attribute(
        "data-status", re.compile("completed|failed|cancelled"), timeout=RENDER_TIMEOUT_MS
    )
    status: str = article.get_attribute("data-status")
    return status


def test_text_to_video_with_camera_control_plays_in_the_page(
    page: Any, kirin: Kirin, key: str
) -> None:
    _sign_in(page, kirin, key)
    page.locator("#model").select_option("kirin_v1_t2v")
    _field(page, "prompt").locator("textarea").fill("a city at sunset")
    camera = _field(page, "camera_control")
    camera.get_by_label("Set camera_control").check()
    camera.locator('[data-param="type"] select').select_option("simple")
    camera.get_by_label("Set config").check()
    camera.locator('[data-param="zoom"] input').fill("-6")
    _field(page, "watermark_info").get_by_label("enabled").check()
    _shot(page, "create")
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.get_by_role("button", name="Generate").click()
    task_id = _task_id(page)
    params = _stored_params(kirin, task_id)
    assert params["camera_control"]["type"] == "simple"
    assert params["camera_control"]["config"]["zoom"] == -6
    assert params["watermark_info"] == {"enabled": True}

    assert _wait_finished(page) == "completed"
    if (
        "/model/v1/generation/task/{task_id}/events"
        in httpx.get(kirin.base_url + "/openapi.json").json()["paths"]
    ):
        # Followed through the event stream, not by polling.
        assert any(url.endswith(f"/task/{task_id}/events") for url in requested)
        assert not any(url.endswith(f"/task/{task_id}") for url in requested)
    video = page.locator("#current-task video.result").first
    marked = page.locator("#current-task video.watermarked")
    expect(marked).to_have_count(1)
    expect(page.locator("#current-task .facts")).to_contain_text("USD")
    video.evaluate("v => { v.muted = true; return v.play(); }")
    page.wait_for_function(
        "v => v.readyState >= 2 && v.currentTime > 0.3", arg=video.element_handle(), timeout=30_000
    )
    size = video.evaluate("v => [v.videoWidth, v.videoHeight, v.duration]")
    assert size[:2] == [1280, 720]
    assert abs(size[2] - 5.0) < 0.2
    video.evaluate("v => v.pause()")
    _shot(page, "result", "#current-task")
    # The task list shows what it cost.
    page.get_by_role("link", name="Tasks").click()
    cost = page.locator(f'tr[data-task-id="{task_id}"] td.num')
    expect(cost).to_have_text(re.compile(r"^\d+\.\d{4}$"))


def _drop_file(page: Any, selector: str, data: bytes, name: str, mime: str) -> None:
    """Drag and drop a file onto a media field, as a person would from their desktop."""
    page.locator(selector).evaluate(
        """(node, [b64, name, mime]) => {
            const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], name, {type: mime}));
            node.dispatchEvent(new DragEvent('dragover', {dataTransfer: transfer, bubbles: true}));
            node.dispatchEvent(new DragEvent('drop', {dataTransfer: transfer, bubbles: true}));
        }""",
        [base64.b64encode(data).decode(), name, mime],
    )


def _image_point(box: dict[str, float], x: float, y: float) -> tuple[float, float]:
    """Screen position of image pixel (x, y) (top-left origin) on the brush canvas."""
    width, height = IMAGE_SIZE
    return box["x"] + x * box["width"] / width, box["y"] + y * box["height"] / height


def _stroke(page: Any, box: dict[str, float], points: list[tuple[float, float]]) -> None:
    page.mouse.move(*_image_point(box, *points[0]))
    page.mouse.down()
    for point in points[1:]:
        page.mouse.move(*_image_point(box, *point), steps=8)
    page.mouse.up()


def _mask(data: str) -> np.ndarray:
    with Image.open(io.BytesIO(base64.b64decode(data))) as image:
        return np.asarray(image.convert("L")) > 127


def test_image_to_video_with_a_painted_motion_brush(page: Any, kirin: Kirin, key: str) -> None:
    width, height = IMAGE_SIZE
    _sign_in(page, kirin, key)
    page.locator("#model").select_option("kirin_v1_i2v")
    _drop_file(
        page, '#fields [data-param="image"]', image_bytes(width, height), "still.png", "image/png"
    )
    expect(_field(page, "image").locator(".preview img")).to_be_visible()
    expect(_field(page, "image").locator(".media-status")).to_contain_text(
        "Uploaded still.png: 640×400"
    )
    canvas = page.locator(".brush-canvas")
    expect(canvas).to_be_visible()
    page.get_by_label("Brush size (image pixels)").fill("30")
    canvas.evaluate("c => c.scrollIntoView({block: 'center'})")
    box = canvas.bounding_box()
    assert box is not None

    # The still area: a band across the top-left; the moving area: a blob on the right.
    page.get_by_role("radio", name="Still area (static_mask)").check()
    _stroke(page, box, [(60, 60), (200, 60), (200, 100), (60, 100)])
    page.get_by_role("radio", name="Moving area 1").check()
    _stroke(page, box, [(480, 250), (560, 250), (560, 320), (480, 320)])
    page.get_by_role("radio", name="Trajectory").check()
    trajectory = [(520, 285), (400, 240), (250, 300)]
    for x, y in trajectory:
        page.mouse.click(*_image_point(box, x, y))
    expect(page.locator(".brush-status")).to_contain_text("3 of 2 to 77 points")
    # A second moving area from the keyboard alone: the cursor starts at the centre and moves
    # by a twentieth of the short side; Space paints, or adds a point with the path tool.
    page.get_by_role("button", name="Add moving area").click()
    page.get_by_role("radio", name="Paint").check()
    canvas.focus()
    page.keyboard.press("Space")
    page.get_by_role("radio", name="Trajectory").check()
    canvas.focus()
    page.keyboard.press("Space")
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    page.keyboard.press("Space")
    expect(page.locator(".brush-status")).to_contain_text("Moving area 2; 2 of 2 to 77 points")
    _shot(page, "motion-brush", ".brush")
    page.get_by_role("button", name="Generate").click()
    task_id = _task_id(page)

    params = _stored_params(kirin, task_id)
    still = _mask(params["static_mask"])
    moving = _mask(params["dynamic_masks"][0]["mask"])
    assert still.shape == moving.shape == (height, width)  # the image's size, rows first
    # Painted where the strokes went (top-left origin in the PNG), nothing far from them.
    assert still[60, 130]
    assert still[100, 60]
    assert not still[80, 130]
    assert not still[300, 500]
    assert moving[250, 520]
    assert moving[320, 500]
    assert not moving[285, 520]
    assert not moving[60, 130]
    assert not still[200:, :].any()
    assert not moving[:200, :].any()
    points = params["dynamic_masks"][0]["trajectories"]
    expected = [{"x": x, "y": height - y} for x, y in trajectory]  # origin bottom-left
    assert len(points) == len(expected)
    for got, want in zip(points, expected, strict=True):
        assert abs(got["x"] - want["x"]) <= 1, points
        assert abs(got["y"] - want["y"]) <= 1, points
    second = params["dynamic_masks"][1]
    assert _mask(second["mask"])[200, 320]
    assert not _mask(second["mask"])[250, 520]
    assert second["trajectories"] == [{"x": 320, "y": 200}, {"x": 380, "y": 200}]
    image = params["image"]
    assert "/uploads/upl_" in image  # uploaded, not inlined

    assert _wait_finished(page) == "completed"
    expect(page.locator("#current-task .facts")).to_contain_text("1152×720")  # 16:10 at 720p


def test_cancel_from_the_page_and_the_task_list(page: Any, kirin: Kirin, key: str) -> None:
    _sign_in(page, kirin, key)
    page.locator("#model").select_option("kirin_v1_t2v")
    _field(page, "prompt").locator("textarea").fill("a long storm over the sea")
    _field(page, "duration").locator("select").select_option("10")
    page.get_by_role("button", name="Generate").click()
    task_id = _task_id(page)
    article = page.locator("#current-task article.task")
    expect(article).to_have_attribute("data-status", re.compile("pending|processing"))
    page.get_by_role("button", name="Cancel task").click()
    expect(article).to_have_attribute("data-status", "cancelled", timeout=30_000)
    expect(page.get_by_role("button", name="Cancel task")).to_be_hidden()

    # The list: filter by status and model, open the task, read its (empty) deliveries.
    page.get_by_role("link", name="Tasks").click()
    tasks = page.get_by_role("region", name="Tasks")
    tasks.get_by_label("Status").select_option("cancelled")
    row = page.locator(f'tr[data-task-id="{task_id}"]')
    expect(row).to_be_visible()
    tasks.get_by_label("Model").select_option("kirin_v1_i2v")
    expect(row).to_be_hidden()
    tasks.get_by_label("Status").select_option("")
    tasks.get_by_label("Model").select_option("")
    expect(page.locator("tr[data-task-id]")).not_to_have_count(0)
    _shot(page, "tasks")
    page.get_by_role("button", name=f"Open {task_id}").click()
    page.get_by_role("button", name="Show callback deliveries").click()
    expect(page.locator(".detail")).to_contain_text("no callback_url")
    # Cursor paging, ten a page: make it take more than one page (cancelled at once: cheap).
    with kirin.client(key) as client:
        for number in range(10):
            body = {"model": "kirin_v1_t2v", "prompt": f"page filler {number}"}
            made = client.post("/model/v1/generation", json=body).json()
            client.post(f"/model/v1/generation/task/{made['id']}/cancel")
    tasks.get_by_role("button", name="Refresh").click()
    rows = tasks.locator("tr[data-task-id]")
    expect(rows).to_have_count(10)
    first_page = rows.first.get_attribute("data-task-id")
    tasks.get_by_role("button", name="Older page").click()
    expect(tasks.get_by_role("status")).to_have_text("page 2")
    expect(rows.first).not_to_have_attribute("data-task-id", first_page)
    tasks.get_by_role("button", name="Newer page").click()
    expect(rows.first).to_have_attribute("data-task-id", first_page)
    expect(tasks.get_by_role("button", name="Newer page")).to_be_disabled()


def test_the_subject_library_makes_and_deletes_a_subject(
    page: Any, kirin: Kirin, key: str, tmp_path: Path
) -> None:
    front, side = tmp_path / "front.png", tmp_path / "side.jpg"
    front.write_bytes(image_bytes(400, 400, seed=1))
    side.write_bytes(image_bytes(400, 400, fmt="JPEG", seed=2))
    _sign_in(page, kirin, key)
    page.get_by_role("link", name="Subjects").click()
    library = page.get_by_role("region", name="Subjects")
    form = library.locator("form")
    form.locator('[data-param="element_name"] input').fill("Red fox")
    form.locator('[data-param="reference_type"] select').select_option("image_refer")
    images = form.locator('[data-param="element_image_list"]')
    images.get_by_label("Set element_image_list").check()
    images.locator('[data-param="frontal_image"] input[type=file]').set_input_files(front)
    # refer_images needs 1 to 3 items: one is there, a second can be added and removed again.
    refer = images.locator('[data-param="refer_images"]')
    images.get_by_role("button", name="Add to refer_images").click()
    expect(refer.locator("input[type=file]")).to_have_count(2)
    refer.get_by_role("button", name="Remove refer_images 2").click()
    refer.locator("input[type=file]").set_input_files(side)
    expect(images.locator(".media-status .ok")).to_have_count(2)
    _shot(page, "subjects", "#subjects")
    form.get_by_role("button", name="Make subject").click()
    card = library.locator("article.element", has_text="Red fox")
    expect(card).to_be_visible(timeout=RENDER_TIMEOUT_MS)
    element_id = card.get_attribute("data-element-id")
    assert element_id is not None
    # The new subject is offered to element_list fields of the create form.
    assert page.locator(f'#element-ids option[value="{element_id}"]').count() == 1
    page.once("dialog", lambda dialog: dialog.accept())
    card.get_by_role("button", name="Delete subject Red fox").click()
    expect(card).to_be_hidden()
    with kirin.client(key) as client:
        assert client.get(f"/model/v1/elements/{element_id}").status_code == 404


def test_readable_on_a_phone(browser: Any, kirin: Kirin, key: str) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    tab = context.new_page()
    try:
        _sign_in(tab, kirin, key)
        tab.locator("#model").select_option("kirin_v1_i2v")
        # Nothing wider than the screen: no sideways scrolling.
        assert tab.evaluate("document.documentElement.scrollWidth") <= 390
        _shot(tab, "phone")
    finally:
        context.close()


def test_the_event_stream_parser(page: Any, kirin: Kirin) -> None:
    """The page's own SSE parser (fetch() streams: EventSource cannot send a key)."""
    page.goto(kirin.base_url + "/")
    events = page.evaluate(
        """async () => {
            const { SseParser } = await import('/console/sse.js');
            const parser = new SseParser();
            const out = [];
            for (const chunk of [': keep-alive\\r\\n\\r', '\\nevent: task\\r\\ndata: {"a":',
                                 '1}\\r', '\\n\\r\\nid: 7\\nevent: task\\ndata: x\\ndata: y\\n\\n',
                                 'data: no event name\\n\\n', 'event: task\\n\\n'])
                out.push(...parser.push(chunk));
            return out;
        }"""
    )
    assert events == [
        {"event": "task", "data": '{"a":1}', "id": ""},
        {"event": "task", "data": "x\ny", "id": "7"},
        {"event": "message", "data": "no event name", "id": "7"},
    ]


def test_64_bit_ids_stay_exact_in_the_page(page: Any, kirin: Kirin) -> None:
    page.goto(kirin.base_url + "/")
    parsed = page.evaluate(
        """async () => {
            const { parseJson } = await import('/console/api.js');
            const text = '{"id": 9062046865116827001, "n": [1, 2.5], "s": "9062046865116827001"}';
            return parseJson(text);
        }"""
    )
    assert parsed == {"id": "9062046865116827001", "n": [1, 2.5], "s": "9062046865116827001"}


def test_a_video_is_uploaded_and_previewed(
    page: Any, kirin: Kirin, key: str, tmp_path: Path
) -> None:
    clip = video_file(tmp_path / "dance.mp4", seconds=3.0, audio=False)
    _sign_in(page, kirin, key)
    page.locator("#model").select_option("kirin_v3_motion_control")
    field = _field(page, "video_url")
    field.locator("input[type=file]").set_input_files(clip)
    expect(field.locator(".media-status .ok")).to_contain_text("480×360, 3")
    preview = field.locator(".preview video")
    page.wait_for_function("v => v.readyState >= 1", arg=preview.element_handle())
    assert preview.evaluate("v => [v.videoWidth, v.videoHeight]") == [480, 360]
    # A file of the wrong kind is refused in the page, naming what the field takes.
    field.locator("input[type=file]").set_input_files(
        {"name": "notes.txt", "mimeType": "text/plain", "buffer": b"hello"}
    )
    expect(field.locator(".media-status .error")).to_contain_text("video/mp4 or video/quicktime")
