#!/usr/bin/env python3
"""Pages written per commit, by B-tree, from a SQLite database's WAL (docs/benchmarks.md,
"Pages per commit").

    python3 scripts/wal-pages.py DATA.db [LAST_COMMITS]

Copies DATA.db and DATA.db-wal to a temporary directory (so a running server is not
disturbed; pause it with `kill -STOP` for a consistent copy), reads the WAL frames of the
current checkpoint generation, groups them by commit, and maps each page number to its
table or index with SQLite's `dbstat`. Prints the mean pages per commit over the last
LAST_COMMITS commits (default 300) and the share of each B-tree.
"""

import collections
import shutil
import sqlite3
import struct
import sys
import tempfile
from pathlib import Path


def main() -> int:
    if len(sys.argv) < 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    db = Path(sys.argv[1])
    last_n = int(sys.argv[2]) if len(sys.argv) > 2 else 300
    wal_path = Path(str(db) + "-wal")
    if not wal_path.exists():
        print(f"{wal_path}: no WAL (the database was checkpointed and closed)", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "copy.db"
        shutil.copy(db, copy)
        wal = wal_path.read_bytes()
        (Path(tmp) / "copy.db-wal").write_bytes(wal)
        if len(wal) < 32:
            print("WAL is empty", file=sys.stderr)
            return 1
        _magic, _ver, page_size, _seq, salt1, salt2, _c1, _c2 = struct.unpack(">8I", wal[:32])
        commits, current, off = [], [], 32
        while off + 24 + page_size <= len(wal):
            page, db_size, s1, s2 = struct.unpack(">4I", wal[off : off + 16])
            if (s1, s2) != (salt1, salt2):
                break  # frames of an earlier generation
            current.append(page)
            if db_size:  # the last frame of a commit records the database size
                commits.append(current)
                current = []
            off += 24 + page_size
        if not commits:
            print("no committed frames in the current WAL generation", file=sys.stderr)
            return 1
        con = sqlite3.connect(copy)
        owner = {p: name for name, p in con.execute("SELECT name, pageno FROM dbstat")}
        con.close()
    chosen = commits[-last_n:]
    counts = collections.Counter(owner.get(p, "?") for c in chosen for p in c)
    n = len(chosen)
    for name, k in counts.most_common():
        print(f"{k / n:6.2f}  {name}")
    total = sum(len(c) for c in chosen) / n
    print(f"pages per commit {total:.2f} over the last {n} commits (page size {page_size})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
