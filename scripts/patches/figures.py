#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Print the cover letter's figures, from what make bench and make stress
wrote into Documentation/admin-guide/ (hotplug-bench*.json and
hotplug-stress.rst), so that the cover letter never carries a figure of
its own.

Usage: figures.py <tree>
"""
import json
import os
import re
import sys
import textwrap

ADMIN = "Documentation/admin-guide"


def bench(tree, suffix):
    """(date, summary) of one bench run, or None when it never ran."""
    path = os.path.join(tree, ADMIN, f"hotplug-bench{suffix}.json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        summary = json.load(f)["summary"]
    date = "undated"
    with open(os.path.join(tree, ADMIN, "hotplug-bench.rst")) as f:
        runs = re.findall(r"^Run of (\S+) in one boot: (.*)$", f.read(), re.M)
    # The .rst has a run line per kernel: the 6.12 one names 6.12's own.
    for when, what in runs:
        if ("6.12" in what) == (suffix == "-6.12"):
            date = when
    return date, summary


def ratio(summary, point, metric):
    m = summary.get(point, {}).get(metric)
    return None if not m or m.get("ratio") is None else m["ratio"]


def iops_range(summary, vqw):
    """min and max ours/base IOPS ratio over the vhost_scsi points, with
    the point each comes from."""
    pts = [(m["iops"]["ratio"], p) for p, m in summary.items()
           if "iops" in m and m["iops"].get("ratio") is not None and
           p.endswith("-vqw") == vqw and "rate" not in p]
    if not pts:
        return None
    return min(pts), max(pts)


def fmt(r):
    return "-" if r is None else f"{r:.2f}x"


def point_name(point, sfx):
    """rd-randread-4k-q1-d32 -> rd_mcp randread 4k, 1 queue, depth 32"""
    m = re.match(r"(rd|null)-(\w+)-(\w+)-q(\d+)-d(\d+)$",
                 point.removesuffix(sfx))
    if not m:
        return point
    backend, op, bs, q, d = m.groups()
    return (f"{'rd_mcp' if backend == 'rd' else 'null_blk'} {op} {bs}, "
            f"{q} queue{'s' if q != '1' else ''}, depth {d}")


def vhost_line(summary, base, vqw=False):
    rng = iops_range(summary, vqw)
    if rng is None:
        return None
    (lo, lo_pt), (hi, hi_pt) = rng
    sfx = "-vqw" if vqw else ""
    who = ", with a worker per virtqueue" if vqw else ""
    return (f"vhost_scsi IOPS{who}, 4 KiB random and 128 KiB sequential on "
            "null_blk and rd_mcp, 1-2 queues, depth 1-128: "
            f"{fmt(lo)} ({point_name(lo_pt, sfx)}) to {fmt(hi)} "
            f"({point_name(hi_pt, sfx)}) of {base}; at 2 queues x "
            "depth 32 "
            f"{fmt(ratio(summary, 'rd-randread-4k-q2-d32' + sfx, 'iops'))} "
            "(rd_mcp) and "
            f"{fmt(ratio(summary, 'null-randread-4k-q2-d32' + sfx, 'iops'))}"
            " (null_blk)")


def mdev_line(summary):
    line = ("mdev create/remove cycles: "
            f"{fmt(ratio(summary, 'create-remove-p1', 'cycles_per_s'))} "
            "(one parent) and "
            f"{fmt(ratio(summary, 'create-remove-p4', 'cycles_per_s'))} "
            "(four)")
    a = summary.get("unregister-64", {}).get("ms")
    b = summary.get("unregister-256", {}).get("ms")
    if a and b and a["median"]["ours"]:
        line += ("; unregistering 256 children takes "
                 f"{b['median']['ours'] / a['median']['ours']:.1f}x as long"
                 " as 64")
    return line


def bench_items(tree):
    """On 6.1 against the base kernel's drivers; on 6.12, with the
    series' drivers built out of tree, against 6.12's own."""
    items = []
    for suffix, kernel, base in (("", "6.1", "the base driver"),
                                 ("-6.12", "6.12", "6.12's own driver")):
        run = bench(tree, suffix)
        if run is None:
            continue
        date, s = run
        items.append(f"on {kernel}, against {base} (run of {date}):")
        items += [line for line in (vhost_line(s, base),
                                    vhost_line(s, base, vqw=True),
                                    mdev_line(s)) if line]
        mem = ratio(s, "mem", "kb_per_queue_endpoint")
        if mem is not None:
            items.append(f"host memory per request queue after "
                         f"SET_ENDPOINT: {fmt(mem)}")
    return items


def stress_items(tree):
    path = os.path.join(tree, ADMIN, "hotplug-stress.rst")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        text = f.read()
    # "Mode ``full``, N s in all, run on DATES; the boots:" (a run made
    # in parts), or the older "Run of DATE, mode ``full``, ..."
    head = re.search(r"^Mode ``(?P<mode>\w+)``, \d+ s in all, "
                     r"run on (?P<when>[^;]+);", text, re.M) or \
        re.search(r"^Run of (?P<when>\S+), mode ``(?P<mode>\w+)``", text,
                  re.M)
    rows = re.findall(r"^   \* - (\S+)\n     - (\S+)\n     - (.+)\n"
                      r"     - (\S+)\n     - (\S+)$", text, re.M)
    rows = rows[1:]	# the header
    ours = [r for r in rows if r[2] == "ours"]
    base = [r for r in rows if r[2] != "ours"]
    if not head or not rows:
        return []
    when, mode = head["when"], head["mode"]
    clean = all(r[3] == "PASS" and r[4] == "0" for r in ours)
    short = "" if mode == "full" else \
        " in the short mode, a fiftieth of the bounds"
    items = [f"hot-plug stress (run of {when}{short}):",
             f"{', '.join(sorted({r[0] for r in ours}))}: "
             f"{'no failure and no kernel report' if clean else 'failures'}"
             " with the new drivers, on the base kernel and on a "
             "KASAN/lockdep/kmemleak kernel"]
    # What the report says first for each failed run of the base drivers:
    # its first kernel report, else its first failure.
    first = {}
    for scen, kern, what, line in re.findall(
            r"^\* (\S+), (\S+) kernel, [^,]+, first (failure|report): "
            r"``(?:\[[ .0-9]+\] )?(?:failures, the first: )?(.*)``$",
            text, re.M):
        if what == "report" or (scen, kern) not in first:
            first[(scen, kern)] = line
    for r in base:
        if r[3] != "PASS":
            why = first.get((r[0], r[1]))
            items.append(f"the base kernel's drivers fail {r[0]} on the "
                         f"{'base' if r[1] == 'debian' else 'KASAN/lockdep'} kernel" +
                         (f": \"{why}\"" if why else ""))
    return items


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    for item in bench_items(sys.argv[1]) + stress_items(sys.argv[1]):
        head = item.endswith(":")
        print(textwrap.fill(item if head else item + ";", width=72,
                            initial_indent="" if head else " - ",
                            subsequent_indent="" if head else "   ",
                            break_on_hyphens=False))


if __name__ == "__main__":
    main()
