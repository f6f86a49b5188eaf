"""The API process's heap is frozen once built, and the collector still frees new cycles."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_freeze_leaves_startup_objects_alone_and_still_collects_new_cycles() -> None:
    # In a child process: freezing is for the life of a process, not for the test runner's.
    script = textwrap.dedent(
        """
        import gc, weakref
        from kirin_api.server.heap import freeze_startup_heap

        class Node:
            pass

        kept = [Node() for _ in range(1000)]
        freeze_startup_heap()
        assert gc.get_freeze_count() >= 1000, gc.get_freeze_count()

        cycle = Node()
        cycle.self = cycle
        alive = weakref.ref(cycle)
        del cycle
        gc.collect()
        assert alive() is None, "a cycle made after the freeze was not collected"
        print("ok")
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
