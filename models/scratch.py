"""Scratch files of the bulk reads and writes (:mod:`models.bulk_read`, :mod:`models.bulk_write`):
where they go, how they are named, and the sweep of those a killed process left behind."""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
from pathlib import Path

log = logging.getLogger("vigie.scratch")

SHARED_MEMORY = Path("/dev/shm")  # noqa: S108 - only the folder: mkdtemp makes a private one in it

SHARED_MEMORY_NEEDED = 2 * 1024**3
"""Free shared memory below which the rows go through the system's temporary folder instead
(a container's /dev/shm is often 64 MB; a night's largest read is some 300 MB)."""


def folder() -> Path | None:
    """Shared memory when there is room in it, else None (the system's temporary folder)."""
    try:
        if os.access(SHARED_MEMORY, os.W_OK):
            stats = os.statvfs(SHARED_MEMORY)
            if stats.f_bavail * stats.f_frsize >= SHARED_MEMORY_NEEDED:
                return SHARED_MEMORY
    except OSError:
        pass  # no shared memory folder: the temporary folder serves
    return None


def prefix(kind: str) -> str:
    """The start of a scratch file's or folder's name: its kind and this process's id, so that
    :func:`sweep` can tell what a process that is gone left behind."""
    return f"vigie-{kind}-{os.getpid()}-"


_SCRATCH_NAME = re.compile(r"vigie-(?:read|stage)-(\d+)-")


def sweep() -> list[Path]:
    """Remove the scratch rows of processes that are gone: a night killed (kill -9) in the
    middle of a bulk read or a staged write leaves its file, up to a few hundred MB of shared
    memory that nothing else would ever free. Returns what was removed."""
    removed = []
    for place in {SHARED_MEMORY, Path(tempfile.gettempdir())}:
        try:
            entries = list(place.iterdir())
        except OSError:
            continue  # no such folder here
        for entry in entries:
            match = _SCRATCH_NAME.match(entry.name)
            if match is None or _alive(int(match.group(1))):
                continue
            try:
                if entry.is_dir():
                    shutil.rmtree(entry)
                else:
                    entry.unlink(missing_ok=True)
            except OSError as exc:  # another user's, say: not this night's to remove
                log.warning("cannot remove %s, left by a process that is gone: %s", entry, exc)
                continue
            removed.append(entry)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True
