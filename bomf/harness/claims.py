"""Claims: a file that says "this process is computing this unit", so two processes never both do.

A claim is a small JSON file (pid, host, boot id, process start time, a random token, the
time) created with ``O_CREAT | O_EXCL``: of two processes that try at once, exactly one
creates it. The holder refreshes the file's mtime every few seconds (a heartbeat thread) and
deletes it when the unit's results are written. A claim is **stale**, and is taken over, when

- its process is gone: same host and boot, and the pid is dead, a zombie, or a newer process
  with the same pid (start times differ); a claim from before a reboot is gone too;
- or its heartbeat stopped: mtime older than ``claim_timeout()`` (``$BOMF_CLAIM_TIMEOUT``
  seconds, default 900). This is the only test for a claim made on another host.

Checking and taking over happen under an ``fcntl.flock`` on ``<folder>/.mutex`` (held for
microseconds), so two processes that find the same stale claim cannot both take it over.
On one machine this is exact. Across machines sharing a filesystem, ``O_EXCL`` and ``flock``
hold on NFSv4 and most cluster filesystems, liveness is judged by the heartbeat alone, and the
hosts' clocks must agree to well within the timeout.

Example:
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "unit.claim"
    >>> mine = try_claim(path)
    >>> try_claim(path) is None          # held by a live process (this one)
    True
    >>> mine.release(); theirs = try_claim(path); theirs is not None
    True
    >>> theirs.release()
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

try:
    import fcntl
except ImportError:  # not POSIX: O_EXCL alone still makes creation exclusive
    fcntl = None

DEFAULT_TIMEOUT_S = 900.0
# A claim file with no readable owner younger than this is still being written (only possible
# where flock does not work); older, its writer died between create and write.
UNREADABLE_GRACE_S = 10.0


def claim_timeout() -> float:
    """Seconds without a heartbeat after which any claim is stale (``$BOMF_CLAIM_TIMEOUT``)."""
    raw = os.environ.get("BOMF_CLAIM_TIMEOUT")
    if not raw:
        return DEFAULT_TIMEOUT_S
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value > 0:
        from ..core.errors import BomfError

        raise BomfError(f"BOMF_CLAIM_TIMEOUT must be a positive number of seconds, got {raw!r}")
    return value


def _boot_id() -> str | None:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return None


def _proc_stat(pid: int) -> tuple[str, int] | None:
    """(state, start time in clock ticks since boot) from /proc, or None where /proc is absent."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rfind(")") + 2:].split()  # the command name may contain spaces and ')'
    return fields[0], int(fields[19])


def this_process() -> dict:
    """Who we are, in the form a claim records."""
    stat = _proc_stat(os.getpid())
    return {"pid": os.getpid(), "host": socket.gethostname(), "boot": _boot_id(),
            "started": stat[1] if stat else None}


def _alive(owner: dict) -> bool:
    """Is the claim's process running? Only answerable for a claim made on this host."""
    me = this_process()
    if owner.get("host") != me["host"]:
        return True  # cannot see another host's processes: the heartbeat decides
    if owner.get("boot") and me["boot"] and owner["boot"] != me["boot"]:
        return False  # made before this machine rebooted
    pid = owner.get("pid")
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by another user
    stat = _proc_stat(pid)
    if stat is not None:
        state, started = stat
        if state in ("Z", "X"):
            return False  # killed, not yet reaped by its parent
        if owner.get("started") is not None and started != owner["started"]:
            return False  # the pid was reused by a newer process
    return True


def read_owner(path: str | os.PathLike) -> dict | None:
    """The owner recorded in a claim file, or None if there is none or it is unreadable."""
    try:
        owner = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return owner if isinstance(owner, dict) else None


def is_stale(path: str | os.PathLike, timeout: float | None = None) -> bool:
    """Whether the claim at ``path`` may be taken over (see the module docstring)."""
    timeout = claim_timeout() if timeout is None else timeout
    try:
        age = time.time() - os.stat(path).st_mtime
    except FileNotFoundError:
        return True
    owner = read_owner(path)
    if owner is None:
        return age > UNREADABLE_GRACE_S
    return age > timeout or not _alive(owner)


def describe(owner: dict | None) -> str:
    """``pid 123 on host-a since 11:42:07``, for log lines."""
    if not owner:
        return "an unknown process"
    since = time.strftime("%H:%M:%S", time.localtime(owner.get("time", 0)))
    return f"pid {owner.get('pid')} on {owner.get('host')} since {since}"


@contextmanager
def _mutex(folder: Path) -> Iterator[None]:
    """Serialise check-and-take-over between processes (a no-op where flock is unavailable)."""
    if fcntl is None:
        yield
        return
    fd = os.open(folder / ".mutex", os.O_CREAT | os.O_RDWR, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError:
            pass  # a filesystem without locks: O_EXCL still decides who creates a claim
        yield
    finally:
        os.close(fd)  # closing releases the lock


class Claim:
    """A held claim; ``release()`` (or leaving a ``with`` block) deletes it if it is still ours."""

    def __init__(self, path: Path, owner: dict, took_over: dict | None = None):
        self.path = path
        self.owner = owner
        self.took_over = took_over  # the stale owner this claim replaced, if any
        _HEARTBEAT.add(self)

    def still_ours(self) -> bool:
        current = read_owner(self.path)
        return current is not None and current.get("token") == self.owner["token"]

    def touch(self) -> None:
        if self.still_ours():
            try:
                os.utime(self.path)
            except OSError:
                pass

    def release(self) -> None:
        _HEARTBEAT.discard(self)
        try:
            with _mutex(self.path.parent):
                if self.still_ours():
                    self.path.unlink(missing_ok=True)
        except OSError:
            pass  # its folder is gone: nothing left to release (and never mask the error being handled)

    def __enter__(self) -> "Claim":
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def _create(path: Path, owner: dict) -> bool:
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(json.dumps(owner, sort_keys=True) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    return True


def try_claim(path: str | os.PathLike, timeout: float | None = None) -> Claim | None:
    """Claim ``path`` now, taking over a stale claim; None while a live process holds it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    owner = {**this_process(), "token": secrets.token_hex(8), "time": time.time()}
    with _mutex(path.parent):
        if _create(path, owner):
            return Claim(path, owner)
        if not is_stale(path, timeout):
            return None
        previous = read_owner(path)
        path.unlink(missing_ok=True)
        if _create(path, owner):
            return Claim(path, owner, took_over=previous or {})
    return None


def wait_claim(path: str | os.PathLike, timeout: float | None = None, poll_s: float = 1.0,
               on_wait: Callable[[dict | None], None] | None = None) -> Claim:
    """Claim ``path``, waiting while another live process holds it (``on_wait`` is told once)."""
    told = False
    while True:
        claim = try_claim(path, timeout)
        if claim is not None:
            return claim
        if on_wait is not None and not told:
            on_wait(read_owner(path))
            told = True
        time.sleep(poll_s)


def remove_stale(folder: str | os.PathLike, timeout: float | None = None) -> list[Path]:
    """Delete the stale ``*.claim`` files in ``folder`` (left by killed runs); return them."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    removed = []
    with _mutex(folder):
        for path in sorted(folder.glob("*.claim")):
            if is_stale(path, timeout):
                path.unlink(missing_ok=True)
                removed.append(path)
    return removed


class _Heartbeat:
    """One daemon thread per process refreshing the mtime of every claim it holds."""

    def __init__(self) -> None:
        self._claims: set[Claim] = set()
        self._lock = threading.Lock()
        self._wake = threading.Event()  # set by add(): beat now, and re-read the timeout
        self._thread: threading.Thread | None = None

    def add(self, claim: Claim) -> None:
        with self._lock:
            self._claims.add(claim)
            self._wake.set()
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="bomf-claims-heartbeat", daemon=True)
                self._thread.start()

    def discard(self, claim: Claim) -> None:
        with self._lock:
            self._claims.discard(claim)

    def _run(self) -> None:
        while True:
            # Several beats per timeout, so a live claim never looks stale (read each time: tests
            # shorten it; a malformed value was reported by the harness, so fall back quietly).
            try:
                timeout = claim_timeout()
            except Exception:
                timeout = DEFAULT_TIMEOUT_S
            self._wake.wait(max(0.2, min(30.0, timeout / 5)))
            self._wake.clear()
            with self._lock:
                claims = list(self._claims)
            for claim in claims:
                claim.touch()


_HEARTBEAT = _Heartbeat()
