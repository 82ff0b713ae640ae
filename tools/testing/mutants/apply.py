#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Parse tools/testing/mutants/mutants.list and apply one mutant.

  apply.py LIST --names            print every mutant: name, tier, tests
  apply.py LIST --check TREE       check that every mutant applies to TREE
  apply.py LIST --apply NAME TREE  apply NAME to the copy TREE

A stanza is "key value" lines; a line that starts with a blank continues
the value before it on a new line (kept as written).  "from" must occur
exactly once in the file.
"""
import re
import sys

KEYS = ("mutant", "rule", "file", "from", "to", "tier", "tests")


def parse(path):
    mutants, cur, key = [], None, None
    with open(path) as f:
        for no, raw in enumerate(f, 1):
            line = raw.rstrip("\n")
            if line.startswith("#"):
                continue
            if not line.strip():
                cur, key = None, None
                continue
            if line[0] in " \t":
                if cur is None or key is None:
                    sys.exit(f"{path}:{no}: continuation outside a stanza")
                cur[key] += "\n" + line
                continue
            key, _, val = line.partition(" ")
            if key not in KEYS:
                sys.exit(f"{path}:{no}: unknown key {key!r}")
            if key == "mutant":
                cur = {"line": no}
                mutants.append(cur)
            elif cur is None:
                sys.exit(f"{path}:{no}: {key} before any mutant")
            if key in cur:
                sys.exit(f"{path}:{no}: {key} given twice")
            cur[key] = val.strip()
    names = set()
    for m in mutants:
        missing = [k for k in KEYS if k not in m]
        if missing:
            sys.exit(f"{path}:{m['line']}: missing {', '.join(missing)}")
        if not re.fullmatch(r"[a-z0-9-]+", m["mutant"]):
            sys.exit(f"{path}:{m['line']}: bad name {m['mutant']!r}")
        if m["mutant"] in names:
            sys.exit(f"{path}:{m['line']}: {m['mutant']} listed twice")
        if m["tier"] not in ("debian", "debug", "6.12", "rt", "inner"):
            sys.exit(f"{path}:{m['line']}: tier is debian, debug, 6.12, rt or inner")
        if m["to"] == "/* mutant */;" and not m["from"].endswith(";"):
            sys.exit(f"{path}:{m['line']}: a statement is replaced by a statement")
        names.add(m["mutant"])
    return mutants


def mutate(m, tree, write):
    path = f"{tree}/{m['file']}"
    with open(path) as f:
        text = f.read()
    n = text.count(m["from"])
    if n != 1:
        return f"{m['mutant']}: 'from' occurs {n} times in {m['file']}"
    if write:
        with open(path, "w") as f:
            f.write(text.replace(m["from"], m["to"]))
    return None


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    mutants = parse(sys.argv[1])
    op = sys.argv[2]
    if op == "--names":
        for m in mutants:
            print(f"{m['mutant']}\t{m['tier']}\t{m['tests']}\t{m['rule']}")
    elif op == "--check" and len(sys.argv) == 4:
        errs = [e for e in (mutate(m, sys.argv[3], False) for m in mutants) if e]
        for e in errs:
            print(e, file=sys.stderr)
        sys.exit(1 if errs else 0)
    elif op == "--apply" and len(sys.argv) == 5:
        found = [m for m in mutants if m["mutant"] == sys.argv[3]]
        if not found:
            sys.exit(f"no mutant {sys.argv[3]}")
        err = mutate(found[0], sys.argv[4], True)
        if err:
            sys.exit(err)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
