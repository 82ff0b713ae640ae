# In the kernel tree the sample builds against the mdev core next to it
# only (the paragraph goes, with the blank comment line before it), and
# checkpatch prefers "GPL" (the same as "GPL v2").
/^ \*$/{
	N
	s/^ \*\n \* Builds against our mdev core and against Debian's (see Makefile)\.$//
	/^$/d
}
s/^MODULE_LICENSE("GPL v2");$/MODULE_LICENSE("GPL");/
