"""The user's side of the ``kirin`` command: ``generate`` and ``task ...``, built on the SDK.

``kirin generate MODEL --param key=value ...`` builds the request body from ``--param`` pairs:

* dotted keys build nested objects (``camera_control.config.pan=5``); a numeric part indexes a
  list, in order (``image_list.0.image=...``, ``image_list.1.image=...``);
* a value is JSON where it parses as JSON (``5``, ``true``, ``[1, 2]``, ``{"a": 1}``), else
  the string itself; quote it to force a string (``external_task_id='"42"'``);
* ``@path`` sends a local file: a video (``video_url=@fox.mp4``) is uploaded first
  (``POST /model/v1/uploads``) and its URL sent; an image is sent inline as raw base64, or
  uploaded the same way when it is over 2 MB (inline, it would be kept in the task's row).

``kirin upload FILE`` uploads a file and prints its URL, to give to any image or video
parameter. ``--wait`` follows the task live (the server's event stream; polling where a server
has none).

Task objects go to stdout as JSON; progress and errors go to stderr, so output can be piped.
An API error prints its code, param and message and exits with status 1; so does a task that
``--wait`` sees finish as failed or cancelled.
"""

from __future__ import annotations

import base64
import itertools
import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    SpinnerColumn,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from kirin_api.client import (
    APIError,
    Client,
    KirinError,
    NotFoundError,
    Task,
    TaskStatus,
    WaitTimeoutError,
)
from kirin_api.client._uploads import is_video

__all__ = [
    "ParamError",
    "generate_command",
    "parse_params",
    "parse_value",
    "task_app",
    "upload_command",
    "user_app",
]

task_app = typer.Typer(
    help="Your tasks: get, list, cancel, wait, download.",
    no_args_is_help=True,
    add_completion=False,
)

BaseUrlOption = Annotated[
    str | None,
    typer.Option("--base-url", envvar="KIRIN_BASE_URL", help="The server's URL."),
]
ApiKeyOption = Annotated[
    str | None,
    typer.Option("--api-key", envvar="KIRIN_API_KEY", help="Your API key.", show_default=False),
]
TimeoutOption = Annotated[
    float, typer.Option("--timeout", help="Seconds to wait for the task to finish.")
]
WatermarkedOption = Annotated[
    bool, typer.Option("--watermarked", help="Download the watermarked copy instead.")
]


class ParamError(ValueError):
    """A ``--param`` that cannot be read."""


# -- parameters ---------------------------------------------------------------------------------


def _no_constants(name: str) -> Any:
    # json.loads takes NaN and Infinity, which are not JSON; such a value stays a string.
    raise ValueError(name)


# Images larger than this are uploaded rather than sent inline (where a server takes uploads).
UPLOAD_IMAGES_OVER = 2 * 1024 * 1024

Uploader = Callable[[Path], "str | None"]
"""Uploads a file and answers its URL; None where the server takes no uploads."""


def parse_value(raw: str, *, base_dir: Path | None = None, upload: Uploader | None = None) -> Any:
    """One ``--param`` value: ``@file`` (see the module's doc; ``upload`` sends files that go
    by URL), else JSON if it parses, else the text."""
    if raw.startswith("@") and len(raw) > 1:
        path = Path(raw[1:]).expanduser()
        if base_dir is not None and not path.is_absolute():
            path = base_dir / path
        try:
            video = is_video(path)
            if video or path.stat().st_size > UPLOAD_IMAGES_OVER:
                url = upload(path) if upload is not None else None
                if url is not None:
                    return url
                if video:
                    raise ParamError(
                        f"{raw}: a video goes by URL and this server takes no uploads; "
                        "put the file on an http(s) server and give its URL"
                    )
            return base64.b64encode(path.read_bytes()).decode("ascii")
        except OSError as exc:
            raise ParamError(f"cannot read {raw[1:]!r}: {exc.strerror or exc}") from None
    try:
        return json.loads(raw, parse_constant=_no_constants)
    except ValueError:
        return raw


def _set_path(root: dict[str, Any], key: str, value: Any) -> None:
    parts = key.split(".")
    if not all(parts):
        raise ParamError(f"--param {key!r}: empty part in the key")
    container: Any = root
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        # What a missing container on the way should be: a list where the next part indexes it.
        fresh: Any = None if last else ([] if parts[depth + 1].isdigit() else {})
        where = ".".join(parts[: depth + 1])
        if isinstance(container, list):
            if not part.isdigit():
                raise ParamError(f"--param {key!r}: {where} is a list; use a number")
            index = int(part)
            if index > len(container):
                raise ParamError(
                    f"--param {key!r}: list items must be given in order "
                    f"(next is {'.'.join([*parts[:depth], str(len(container))])})"
                )
            if index == len(container):
                container.append(value if last else fresh)
            elif last:
                container[index] = value
            container = container[index]
        elif isinstance(container, dict):
            if last:
                container[part] = value
            else:
                if not isinstance(container.get(part), dict | list):
                    container[part] = fresh
                container = container[part]
        else:
            raise ParamError(f"--param {key!r}: {'.'.join(parts[:depth])} is not an object")


def parse_params(
    pairs: Sequence[str], *, base_dir: Path | None = None, upload: Uploader | None = None
) -> dict[str, Any]:
    """``key=value`` pairs into a request body (dotted keys nest; see the module's doc)."""
    body: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ParamError(f"--param {pair!r}: expected key=value")
        _check_not_a_bare_file(key, raw, base_dir)
        _set_path(body, key, parse_value(raw, base_dir=base_dir, upload=upload))
    return body


# What a value that names a local file, given without "@", most likely meant.
_MEDIA_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".mp4", ".mov"})


def _check_not_a_bare_file(key: str, raw: str, base_dir: Path | None) -> None:
    """``image=photo.png`` sends the text "photo.png"; say how to send the file instead."""
    if raw.startswith("@") or "://" in raw:
        return
    path = Path(raw).expanduser()
    if base_dir is not None and not path.is_absolute():
        path = base_dir / path
    if Path(raw).suffix.lower() in _MEDIA_SUFFIXES or (len(raw) < 1024 and path.is_file()):
        raise ParamError(
            f"--param {key}={raw}: that looks like a file; write {key}=@{raw} to send the "
            "file, or give an http(s) URL"
        )


# -- output -------------------------------------------------------------------------------------


def _stderr() -> Console:
    return Console(stderr=True, highlight=False)


def _print_json(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, ensure_ascii=False, default=str))


def _print_task(task: Task) -> None:
    _print_json(task.model_dump(mode="json", by_alias=True, exclude_none=True))


def _fail(message: str) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(1)


@contextmanager
def _api_errors() -> Iterator[None]:
    """Turn the SDK's errors into a line on stderr and exit status 1 (no traceback)."""
    try:
        yield
    except APIError as exc:
        lines = [f"error: {exc.code} (HTTP {exc.status_code})"]
        if exc.param:
            lines.append(f"param: {exc.param}")
        lines.append(f"message: {exc.message}")
        if exc.request_id:
            lines.append(f"request id: {exc.request_id}")
        raise _fail("\n".join(lines)) from None
    except WaitTimeoutError as exc:
        raise _fail(f"error: timeout: {exc}") from None
    except KirinError as exc:
        raise _fail(f"error: {exc}") from None
    except ParamError as exc:
        raise _fail(f"error: {exc}") from None


def _client(base_url: str | None, api_key: str | None) -> Client:
    # --api-key is also read from KIRIN_API_KEY (typer's envvar), so this is neither.
    if not api_key:
        raise _fail(
            "error: no API key: pass --api-key or set KIRIN_API_KEY "
            "(`kirin keys create` on the server's machine makes one)"
        )
    return Client(base_url=base_url, api_key=api_key)


def _uploader(client: Client) -> Uploader:
    def upload(path: Path) -> str | None:
        try:
            return client.uploads.create(path).url
        except NotFoundError:
            return None  # a server without uploads: the caller sends the file inline, or says so

    return upload


def _wait_with_progress(client: Client, task: Task, timeout: float, quiet: bool = False) -> Task:
    """Wait for ``task``, drawing a progress bar on stderr (when it is a terminal) that follows
    the task live (``client.tasks.wait`` streams the server's events where it can)."""
    if task.finished:
        return task
    console = _stderr()
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False, disable=quiet) as progress:
        bar = progress.add_task(f"{task.id} {task.status}", total=100)

        def update(current: Task) -> None:
            progress.update(
                bar,
                completed=current.progress * 100,
                description=f"{current.id} {current.status}",
            )

        update(task)
        return client.tasks.wait(task.id, timeout=timeout, on_update=update)


def _finish(client: Client, task: Task, output: Path | None, watermarked: bool) -> None:
    """Print the finished task; download it where asked; exit 1 if it did not complete."""
    _print_task(task)
    if task.status != "completed":
        error = f": {task.error.code}: {task.error.message}" if task.error else ""
        raise _fail(f"task {task.id} {task.status}{error}")
    if output is not None:
        path = client.tasks.download(task, output, watermarked=watermarked)
        typer.echo(f"saved {path}", err=True)


# -- commands -----------------------------------------------------------------------------------


def generate_command(
    model: Annotated[str, typer.Argument(help="The model id, e.g. kirin_v1_t2v.")],
    param: Annotated[
        list[str] | None,
        typer.Option(
            "--param",
            "-p",
            help="key=value (repeatable). Dotted keys nest (camera_control.config.pan=5); "
            "values are JSON if they parse, else text; @file sends a local file (videos and "
            "large images are uploaded first, small images go inline as base64).",
        ),
    ] = None,
    wait: Annotated[bool, typer.Option("--wait", help="Wait for the task to finish.")] = False,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Save the video here (implies --wait)."),
    ] = None,
    watermarked: WatermarkedOption = False,
    timeout: TimeoutOption = 600.0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    base_url: BaseUrlOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """Create a generation task of MODEL and print it (with --wait, once it has finished)."""
    with _api_errors(), _client(base_url, api_key) as client:
        params = parse_params(param or [], upload=_uploader(client))
        params.pop("model", None)
        task = client.tasks.create(model, **params)
        if not (wait or output is not None):
            _print_task(task)
            return
        task = _wait_with_progress(client, task, timeout, quiet)
        _finish(client, task, output, watermarked)


@task_app.command("get")
def task_get(
    task_id: Annotated[str, typer.Argument(help="The task's id.")],
    base_url: BaseUrlOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """Print one task as JSON."""
    with _api_errors(), _client(base_url, api_key) as client:
        _print_task(client.tasks.get(task_id))


@task_app.command("list")
def task_list(
    status: Annotated[
        str | None,
        typer.Option(help="Only tasks in this status (pending, processing, completed, ...)."),
    ] = None,
    model: Annotated[str | None, typer.Option(help="Only tasks of this model.")] = None,
    external_task_id: Annotated[
        str | None, typer.Option("--external-task-id", help="Only the task with this id.")
    ] = None,
    limit: Annotated[int, typer.Option(help="At most this many tasks (newest first).")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON, one task a line.")] = False,
    base_url: BaseUrlOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """List your tasks, newest first."""
    with _api_errors(), _client(base_url, api_key) as client:
        tasks = client.tasks.list(
            status=_status(status),
            model=model,
            external_task_id=external_task_id,
            limit=max(1, min(limit, 100)),
        )
        found = list(itertools.islice(tasks, max(0, limit)))
    if as_json:
        for task in found:
            typer.echo(task.model_dump_json(by_alias=True, exclude_none=True))
        return
    table = Table("id", "model", "status", "progress", "created", "external id")
    for task in found:
        table.add_row(
            task.id,
            task.model,
            task.status,
            f"{task.progress:.0%}",
            _when(task.created_at),
            task.external_task_id or "",
        )
    console = Console(highlight=False)
    if not console.is_terminal:
        # Piped: no wrapping, so each task stays on one line for grep.
        console = Console(width=250, highlight=False)
    console.print(table)


def _status(value: str | None) -> TaskStatus | None:
    # The server checks the value (400 with param "status"); the cast only informs the types.
    return value  # type: ignore[return-value]


def _when(timestamp: int) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(timestamp, dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")


@task_app.command("cancel")
def task_cancel(
    task_id: Annotated[str, typer.Argument(help="The task's id.")],
    base_url: BaseUrlOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """Cancel a task that has not finished, and print it."""
    with _api_errors(), _client(base_url, api_key) as client:
        _print_task(client.tasks.cancel(task_id))


@task_app.command("wait")
def task_wait(
    task_id: Annotated[str, typer.Argument(help="The task's id.")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Save the video here.")
    ] = None,
    watermarked: WatermarkedOption = False,
    timeout: TimeoutOption = 600.0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    base_url: BaseUrlOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """Wait for a task to finish (with a progress bar) and print it."""
    with _api_errors(), _client(base_url, api_key) as client:
        task = _wait_with_progress(client, client.tasks.get(task_id), timeout, quiet)
        _finish(client, task, output, watermarked)


@task_app.command("download")
def task_download(
    task_id: Annotated[str, typer.Argument(help="The task's id.")],
    output: Annotated[Path, typer.Argument(help="A file, or a directory for <id>.mp4.")],
    watermarked: WatermarkedOption = False,
    base_url: BaseUrlOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """Download a completed task's video."""
    with _api_errors(), _client(base_url, api_key) as client:
        path = client.tasks.download(task_id, output, watermarked=watermarked)
    typer.echo(str(path))


def upload_command(
    file: Annotated[Path, typer.Argument(help="A JPEG/PNG image or an MP4/MOV video.")],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the whole upload object, not only its URL.")
    ] = False,
    base_url: BaseUrlOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """Upload a local file and print its URL, to give to any image or video parameter."""
    with _api_errors(), _client(base_url, api_key) as client:
        try:
            upload = client.uploads.create(file)
        except OSError as exc:
            raise _fail(f"error: cannot read {str(file)!r}: {exc.strerror or exc}") from None
    if as_json:
        _print_json(upload.model_dump(mode="json"))
        return
    typer.echo(upload.url)
    typer.echo(
        f"{upload.id}: {upload.kind} {upload.width}x{upload.height}, expires "
        f"{_when(upload.expires_at)}",
        err=True,
    )


def _build_user_app() -> typer.Typer:
    app = typer.Typer(help="Kirin API client.", no_args_is_help=True, add_completion=False)
    app.command("generate")(generate_command)
    app.command("upload")(upload_command)
    app.add_typer(task_app, name="task")
    return app


user_app = _build_user_app()
"""``generate`` and ``task`` on their own (what ``kirin`` mounts), for tests and embedding."""
