"""The shared measurement store: content-addressed, bounded in bytes, on disk (SQLite), one computation per key."""
from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from pathlib import Path
from typing import TypeVar

from .lru import LruCache
from .measurement import CorruptEntry, Measurement, checksum

log = logging.getLogger("pruning_lab")
T = TypeVar("T")
DEFAULT_MAX_BYTES = 256 << 20       # the full slider grid of the three models takes ~30 MB (docs/BENCHMARKS.md)
OPEN_ATTEMPTS = 40                  # a database another process is opening: retried for ~40 s
MEMORY_ENTRIES = 512                # decoded measurements kept in memory (~20 KB each)
SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (key TEXT PRIMARY KEY, payload BLOB NOT NULL, checksum TEXT NOT NULL,
                                    size INTEGER NOT NULL, used REAL NOT NULL);
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, masks TEXT NOT NULL);
"""


def unreadable(err: sqlite3.DatabaseError) -> bool:
    """Whether an error means the file's contents are broken (not a lock, a full disk, a read-only file)."""
    return not isinstance(err, sqlite3.OperationalError) or "malformed" in str(err) or "not a database" in str(err)


class MeasurementStore:
    """Measurements by masks key (one pruned model on one eval set, by this code), and settings' keys
    pointing at them (settings that prune identically share one entry). `path` None: in memory only.

    Every stored entry carries its checksum and its own key: a corrupt, truncated or foreign entry is
    dropped on read and reported as missing, so it is measured again, never shown. A database file
    SQLite cannot read is moved aside and a new one started. Past `max_bytes` the least recently used
    entries go. `once(key, compute)` runs one computation per key however many threads ask at once."""

    def __init__(self, path: str | os.PathLike | None = None, max_bytes: int = DEFAULT_MAX_BYTES,
                 memory_entries: int = MEMORY_ENTRIES) -> None:
        self.path = None if path is None else Path(path)
        self.max_bytes, self.memory_entries = max_bytes, memory_entries
        self._lock = threading.RLock()
        self._memory: LruCache[str, Measurement] = LruCache(memory_entries)
        self._pointers: LruCache[str, str] = LruCache(8 * memory_entries)   # setting key -> masks key, read lately
        self._flights: dict[str, Future] = {}
        self.corrupt = 0                     # entries dropped because they did not decode
        self.writes = 0                      # measurements this process stored (readers re-check on change)
        self._db = self._open()
        self._bytes = self._sql(lambda db: db.execute("SELECT COALESCE(SUM(size), 0) FROM entries").fetchone()[0])

    def _open(self) -> sqlite3.Connection:
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        for attempt in range(OPEN_ATTEMPTS):
            db = sqlite3.connect(":memory:" if self.path is None else str(self.path), timeout=10,
                                 check_same_thread=False, isolation_level=None)
            try:
                db.execute("PRAGMA journal_mode=WAL")        # another process switching it: "locked"
                db.execute("PRAGMA synchronous=NORMAL")
                db.executescript(SCHEMA)
                db.execute("SELECT COUNT(*) FROM entries").fetchone()
                return db
            except sqlite3.DatabaseError as err:
                db.close()
                if unreadable(err):
                    return self._replace_unreadable()
                if attempt == OPEN_ATTEMPTS - 1:
                    raise
                time.sleep(0.05 * (attempt + 1))
        raise AssertionError("unreachable")

    def _replace_unreadable(self) -> sqlite3.Connection:
        """The file is not a database SQLite can read: keep it aside (for a post-mortem), start empty."""
        aside = self.path.with_name(f"{self.path.name}.unreadable-{int(time.time())}")
        log.warning("measurement store %s is unreadable: moved to %s, starting empty", self.path.name, aside.name)
        for suffix in ("", "-wal", "-shm"):
            with_suffix = self.path.with_name(self.path.name + suffix)
            if with_suffix.exists():
                os.replace(with_suffix, aside.with_name(aside.name + suffix))
        db = sqlite3.connect(str(self.path), timeout=10, check_same_thread=False, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.executescript(SCHEMA)
        return db

    def _sql(self, operation: Callable[[sqlite3.Connection], T]) -> T:
        """Run one operation on the database; an unreadable database is replaced and the operation rerun."""
        with self._lock:
            try:
                return operation(self._db)
            except sqlite3.DatabaseError as err:
                if self.path is None or not unreadable(err):
                    raise
                log.warning("measurement store error (%s): starting a new store file", err)
                self._db.close()
                self._db, self._bytes = self._replace_unreadable(), 0
                self._memory.clear()
                self._pointers.clear()
                return operation(self._db)

    def __len__(self) -> int:
        return self._sql(lambda db: db.execute("SELECT COUNT(*) FROM entries").fetchone()[0])

    def size_bytes(self) -> int:
        """Bytes of the stored entries (the database file is a little larger)."""
        return self._bytes

    def lookup(self, setting_key: str) -> Measurement | None:
        """The measurement stored for a setting's key, or None (never stored, evicted or corrupt). A setting
        read lately is answered from memory without SQLite (whose calls hand the GIL to the server's
        event loop and wait to get it back: milliseconds per call in a busy server)."""
        masks_key = self._pointers.get(setting_key)
        if masks_key is None:
            row = self._sql(lambda db: db.execute("SELECT masks FROM settings WHERE key = ?", (setting_key,)).fetchone())
            if row is None:
                return None
            masks_key = row[0]
        found = self.lookup_masks(masks_key)
        if found is not None:
            self._pointers.put(setting_key, masks_key)
        return found

    def lookup_masks(self, masks_key: str) -> Measurement | None:
        """The measurement of one pruned model (by masks key), or None."""
        found = self._memory.get(masks_key)
        if found is not None:
            return found
        row = self._sql(lambda db: db.execute("SELECT payload, checksum FROM entries WHERE key = ?",
                                              (masks_key,)).fetchone())
        if row is None:
            return None
        try:
            if checksum(row[0]) != row[1]:
                raise CorruptEntry("checksum mismatch")
            found = Measurement.decode(row[0], masks_key)
        except CorruptEntry as err:
            log.warning("measurement %s… dropped (%s): it will be measured again", masks_key[:12], err)
            self.corrupt += 1
            self._delete([masks_key])
            return None
        self._sql(lambda db: db.execute("UPDATE entries SET used = ? WHERE key = ?", (time.time(), masks_key)))
        self._memory.put(masks_key, found)
        return found

    def remember(self, setting_key: str, masks_key: str, measurement: Measurement) -> None:
        """Store a measurement under its masks key (unless there) and point the setting's key at it."""
        payload = measurement.encode(masks_key)
        row = (masks_key, payload, checksum(payload), len(payload), time.time())

        def write(db: sqlite3.Connection) -> int:
            added = db.execute("INSERT OR IGNORE INTO entries VALUES (?, ?, ?, ?, ?)", row).rowcount
            db.execute("INSERT OR REPLACE INTO settings VALUES (?, ?)", (setting_key, masks_key))
            return added
        with self._lock:
            if self._sql(write):
                self._bytes += len(payload)
            self.writes += 1
            self._memory.put(masks_key, measurement)
            self._pointers.put(setting_key, masks_key)
            if self._bytes > self.max_bytes:
                self._evict()

    def known(self, setting_keys: Iterable[str]) -> set[str]:
        """Which of these settings' keys have a stored measurement (one query per 500 keys)."""
        keys, found = list(setting_keys), set()
        for start in range(0, len(keys), 500):
            chunk = keys[start:start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._sql(lambda db: db.execute(
                f"SELECT s.key FROM settings s JOIN entries e ON e.key = s.masks WHERE s.key IN ({marks})",
                chunk).fetchall())
            found.update(row[0] for row in rows)
        return found

    def once(self, key: str, compute: Callable[[], T]) -> T:
        """compute() for `key`, run by the first caller; callers that ask while it runs wait for its
        value (or its exception) instead of computing it again."""
        with self._lock:
            flight = self._flights.get(key)
            owner = flight is None
            if owner:
                flight = self._flights[key] = Future()
        if not owner:
            return flight.result()
        try:
            value = compute()
            flight.set_result(value)
            return value
        except BaseException as err:
            flight.set_exception(err)
            raise
        finally:
            with self._lock:
                del self._flights[key]

    def _delete(self, masks_keys: list[str]) -> None:
        def delete(db: sqlite3.Connection) -> int:
            marks = ",".join("?" * len(masks_keys))
            freed = db.execute(f"SELECT COALESCE(SUM(size), 0) FROM entries WHERE key IN ({marks})",
                               masks_keys).fetchone()[0]
            db.execute(f"DELETE FROM entries WHERE key IN ({marks})", masks_keys)
            db.execute(f"DELETE FROM settings WHERE masks IN ({marks})", masks_keys)
            return freed
        with self._lock:
            self._bytes -= self._sql(delete)
            gone = set(masks_keys)
            for key in gone:
                self._memory.pop(key)
            for setting_key in [s for s, masks in self._pointers.items() if masks in gone]:
                self._pointers.pop(setting_key)

    def _evict(self) -> None:
        """Drop least recently used entries until the store holds at most 90% of max_bytes (those read from
        memory lately count as used now)."""
        recent = [(time.time(), key) for key, _ in self._memory.items()]
        self._sql(lambda db: db.executemany("UPDATE entries SET used = ? WHERE key = ?", recent))
        rows = self._sql(lambda db: db.execute("SELECT key, size FROM entries ORDER BY used").fetchall())
        excess, victims = self._bytes - int(0.9 * self.max_bytes), []
        for key, size in rows:
            if excess <= 0:
                break
            victims.append(key)
            excess -= size
        for start in range(0, len(victims), 500):
            self._delete(victims[start:start + 500])
