/* SPDX-License-Identifier: GPL-2.0 */
/*
 * VSG_ONLY="fixture.test[ fixture.test...]" runs only the named tests of a
 * suite: the 6.1 harness has no filter of its own, and a test that may
 * take the kernel down (a defect of 6.1's driver) runs in a boot of
 * its own.  A name that matches no test fails the run.  Include after
 * kselftest_harness.h; main() calls vsg_harness_main().
 */
#ifndef VSG_ONLY_H
#define VSG_ONLY_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool vsg_only_named(const char *only, const char *fixture,
			   const char *test)
{
	size_t fl = strlen(fixture), tl = strlen(test);
	const char *p = only;

	while (*p) {
		size_t n = strcspn(p, " ,");

		if (n == fl + 1 + tl && !strncmp(p, fixture, fl) &&
		    p[fl] == '.' && !strncmp(p + fl + 1, test, tl))
			return true;
		p += n;
		p += strspn(p, " ,");
	}
	return false;
}

/* Drops every test not named in @only; 0, or -1 if a name matched none. */
static int vsg_only(const char *only)
{
	struct __fixture_metadata *f;
	struct __test_metadata *t, *next, *last;
	unsigned int kept = 0, named = 0;
	const char *p;

	if (!only || !*only)
		return 0;
	for (f = __fixture_list; f; f = f->next) {
		t = f->tests;
		f->tests = NULL;
		last = NULL;
		for (; t; t = next) {
			next = t->next;
			if (!vsg_only_named(only, f->name, t->name))
				continue;
			/* the harness's list: only ->prev of the head wraps */
			t->next = NULL;
			if (!f->tests) {
				f->tests = t;
			} else {
				last->next = t;
				t->prev = last;
			}
			f->tests->prev = t;
			last = t;
			kept++;
		}
	}
	for (p = only; *p; named++) {
		p += strcspn(p, " ,");
		p += strspn(p, " ,");
	}
	if (kept == named)
		return 0;
	fprintf(stderr, "VSG_ONLY=\"%s\": %u of %u names match a test\n",
		only, kept, named);
	return -1;
}

/* A suite's main(): the harness's, behind the filter. */
static int vsg_harness_main(int argc, char **argv)
{
	if (vsg_only(getenv("VSG_ONLY")))
		return KSFT_FAIL;
	return test_harness_run(argc, argv);
}

#endif /* VSG_ONLY_H */
