# SPDX-License-Identifier: GPL-2.0
#
# The kernel log on stdin without the reports a test declared (see
# "drop_expected" in guest-run): awk -v pats=EXPECT -v bad=BAD-PATTERNS.
# Each line of EXPECT that matches opens one report and each "---[ end
# trace" closes one: reports that two CPUs print at once interleave line
# by line.  While one is open only the lines that start another,
# undeclared report (any bad pattern but "Call Trace") are kept.
BEGIN {
	while ((getline p < pats) > 0)
		if (p != "")
			pat[p] = 1
	while ((getline p < bad) > 0)
		if (p != "" && p != "Call Trace")
			start[p] = 1
}

function any(a, l,  p) {
	for (p in a)
		if (l ~ p)
			return 1
	return 0
}

any(pat, $0) { open++; next }
open && /---\[ end trace / { open--; next }
open && !any(start, $0) { next }
{ print }
