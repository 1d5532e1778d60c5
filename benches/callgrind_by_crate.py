#!/usr/bin/env python3
"""Instructions per request by crate, from a callgrind profile that benches/gateway_callgrind.sh
or benches/wrappers_callgrind.sh kept (KEEP=PREFIX): each function's own instructions (not
those of what it calls), summed by the crate its path starts with; libc's memory copies and the
allocators apart. Says where user-space time goes, not who asked for it.

Usage: benches/callgrind_by_crate.py PROFILE REQUESTS [PROFILE REQUESTS]
e.g.   KEEP=/tmp/gw N=3000 benches/gateway_callgrind.sh target/release/tollgate
       benches/callgrind_by_crate.py /tmp/gw.18871 3000
With two profiles, prints them side by side with the difference (second minus first).
"""

import re
import subprocess
import sys

# The thread's entry points: they own every instruction inclusively, none of their own.
ENTRY = re.compile(r"clone$|start_thread|thread_start|call_once\{\{vtable|__rust_begin_short")
LINE = re.compile(r"\s*([\d,]+) \([^)]*\)\s+(.*)$")


def group(function):
    if re.search(r"mem(cpy|move|set|cmp)", function):
        return "libc mem* (moves of futures and buffers)"
    if re.match(r"_?mi_", function) or re.search(r"malloc|^_int_|^free$|^cfree", function):
        return "allocator"
    path = function.lstrip("<")
    crate = re.match(r"([a-z_0-9]+)::", path)
    if not crate:
        return "other"
    name = crate.group(1)
    if name in ("core", "alloc", "std", "hashbrown"):
        return "core/alloc/std"
    if name in ("sha2", "digest"):
        return "sha2 (software under valgrind)"
    return name


def by_crate(profile):
    out = subprocess.run(
        ["callgrind_annotate", "--threshold=100", profile],
        capture_output=True, text=True, check=True,
    ).stdout
    groups, total = {}, 0
    for line in out.splitlines():
        m = LINE.match(line)
        if not m:
            continue
        count, name = int(m.group(1).replace(",", "")), m.group(2)
        if "PROGRAM TOTALS" in name:
            total = count
            continue
        function = name.split(":", 1)[-1].rsplit(" [", 1)[0]
        if ENTRY.search(function):
            continue
        key = group(function)
        groups[key] = groups.get(key, 0) + count
    return groups, total


def main(args):
    if len(args) not in (2, 4):
        sys.exit(__doc__)
    runs = [(by_crate(args[i]), int(args[i + 1])) for i in range(0, len(args), 2)]
    names = sorted({k for (g, _), _ in runs for k in g}, key=lambda k: -runs[-1][0][0].get(k, 0))
    for name in names + ["total"]:
        per = []
        for (groups, total), n in runs:
            per.append((total if name == "total" else groups.get(name, 0)) / n)
        cells = "".join("%9.0f" % p for p in per)
        diff = "%+9.0f" % (per[1] - per[0]) if len(per) == 2 else ""
        print("%-42s%s%s" % (name, cells, diff))


if __name__ == "__main__":
    main(sys.argv[1:])
