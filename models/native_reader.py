"""The bulk reader process of :mod:`models.bulk_read`: connectorx, and its own SQLite, kept out
of the process that holds the database's other connections (see that module for why). Run as a
script, so that it imports nothing of this package: connectorx and pyarrow only.

One JSON request per line on standard input (``path``, ``query``, ``out``), one JSON answer per
line on standard output (``{"ok": true, "out": ...}`` once the rows are written to ``out`` as an
Arrow IPC file, else ``{"ok": false, "out": ..., "error": ...}``). It ends when its standard
input closes.
"""

from __future__ import annotations

import ctypes
import json
import sys
from urllib.parse import quote


def _read(path: str, query: str, out: str) -> None:
    import connectorx
    import pyarrow as pa

    table = connectorx.read_sql(f"sqlite://{quote(path)}", query, return_type="arrow")
    with pa.OSFile(out, "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    del table
    _give_back_memory()


def _give_back_memory() -> None:
    """Hand the rows' memory back to the system between reads: Arrow's allocator and the C
    library's keep freed pages for reuse, and this process idles beside the night (it kept
    about 200 MB after a million-row read)."""
    import pyarrow as pa  # already loaded by the read

    pa.default_memory_pool().release_unused()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except OSError:  # not glibc: nothing to trim this way
        return


def main() -> None:
    for line in sys.stdin:
        request = json.loads(line)
        try:
            _read(request["path"], request["query"], request["out"])
            answer: dict[str, object] = {"ok": True, "out": request["out"]}
        except Exception as exc:  # any failure is the parent's to raise, with its message
            answer = {"ok": False, "out": request.get("out"), "error": f"{type(exc).__name__}: {exc}"}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
