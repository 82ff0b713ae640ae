#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Apply an insert-only diff by its anchors, for a kernel whose lists
moved around the lines the diff names (a Makefile's TARGETS, an index's
toctree).

Each run of added lines goes after the nearest context line above it in
its hunk that occurs exactly once in the file (the context lines between
them must follow it there too), or else before such a line below it.  A diff that removes lines, or whose run finds
no such line, is refused.

Usage: anchor-apply.py <diff> <dir>
  For each file of the diff, reads <dir>/a/<path> and writes the result
  to <dir>/b/<path>; prints the paths it wrote.
"""
import os
import sys


def hunks(lines):
    """(path, [hunk lines]) for each hunk of a unified diff."""
    path, cur = None, None
    for line in lines:
        if line.startswith("+++ "):
            path = line[4:].split("\t")[0]
            path = path[2:] if path.startswith("b/") else path
        elif line.startswith(("--- ", "diff ", "index ")):
            continue
        elif line.startswith("@@"):
            cur = []
            yield path, cur
        elif cur is not None:
            cur.append(line)


def runs(hunk):
    """(above, added, below) for each run of added lines: the context
    lines above and below it, nearest first."""
    for i, line in enumerate(hunk):
        if line.startswith("-"):
            raise ValueError("removes lines")
        if not line.startswith("+") or (i and hunk[i - 1].startswith("+")):
            continue
        j = i
        while j < len(hunk) and hunk[j].startswith("+"):
            j += 1
        above = [l[1:] for l in reversed(hunk[:i]) if l.startswith(" ")]
        below = [l[1:] for l in hunk[j:] if l.startswith(" ")]
        yield above, [l[1:] for l in hunk[i:j]], below


def place(text, above, added, below):
    """Insert @added after the nearest line of @above that occurs once in
    @text (with the context lines between them following it there too),
    else before the nearest such line of @below."""
    for n, anchor in enumerate(above):
        where = [k for k, l in enumerate(text) if l == anchor]
        k = where[0] + 1 if len(where) == 1 else None
        if k is not None and text[k:k + n] == above[:n][::-1]:
            return text[:k + n] + added + text[k + n:]
    for n, anchor in enumerate(below):
        where = [k for k, l in enumerate(text) if l == anchor]
        k = where[0] if len(where) == 1 else None
        if k is not None and text[k - n:k] == below[:n]:
            return text[:k - n] + added + text[k - n:]
    raise ValueError("no context line of %r occurs once" % added[0])


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    diff, top = sys.argv[1], sys.argv[2]
    with open(diff) as f:
        lines = f.read().split("\n")
    files = {}
    for path, hunk in list(hunks(lines)):
        if path not in files:
            with open(os.path.join(top, "a", path)) as f:
                files[path] = f.read().split("\n")
        for above, added, below in runs(hunk):
            files[path] = place(files[path], above, added, below)
    for path, text in files.items():
        out = os.path.join(top, "b", path)
        os.makedirs(os.path.dirname(out), exist_ok=True)
        with open(out, "w") as f:
            f.write("\n".join(text))
        print(path)


if __name__ == "__main__":
    try:
        main()
    except (ValueError, OSError) as e:
        sys.exit("anchor-apply: %s" % e)
