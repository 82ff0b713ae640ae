#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Write this tree as a git format-patch series against Debian's kernel
# source, and prove that it applies and that every patch builds and passes
# checkpatch.  The series is generated from the project's own files: what
# goes into which patch is scripts/patches/series, the commit messages are
# the other files of scripts/patches/.  Nothing of a driver is kept twice.
#
# Usage: scripts/mkpatches.sh [--no-verify]
#
#   $OUT/patches/base/	the kernel source, a git repo with one commit
#			"base" (kept while the tarball is the same)
#   $OUT/patches/*.patch	the series, with its cover letter
#   $OUT/patches/verify/	base with the series applied by git am
#   $OUT/patches/obj/	the kernel build (O=) the patches are built in
#   $OUT/patches/report	one line per patch: builds, checkpatch
#
# Environment: KSRC_TAR (default /usr/src/linux-source-6.1.tar.xz),
# JOBS (make -j, default 2: VMs run beside us), VERIFY=0 to skip the
# verification.
set -euo pipefail

TOP=$(realpath "$(dirname "$0")/..")
OUT=${OUT:-$TOP/out}
P=$OUT/patches
SPEC=$TOP/scripts/patches
KSRC_TAR=${KSRC_TAR:-/usr/src/linux-source-6.1.tar.xz}
JOBS=${JOBS:-2}
VERIFY=${VERIFY:-1}
[ "${1:-}" != --no-verify ] || VERIFY=0

log() { echo "mkpatches: $*" >&2; }
die() { log "$*"; exit 1; }

# Builds share two cores with the VMs of make check: lowest priority.
kmake() { nice -n 19 make -j"$JOBS" "$@"; }

for tool in unifdef git xz; do
	command -v $tool >/dev/null || die "$tool missing; run scripts/setup.sh"
done
[ -f "$KSRC_TAR" ] || die "$KSRC_TAR missing; run scripts/setup.sh"

# The identity of the series is the project's: its commits carry it and
# every patch is signed off with it (checkpatch wants a Signed-off-by).
# GIT_AUTHOR_NAME and GIT_AUTHOR_EMAIL, where set, take their place (the
# debug kernel's source, scripts/debug-kernel.sh, is nobody's series).
NAME=${GIT_AUTHOR_NAME:-$(git -C "$TOP" config user.name)} ||
	die "git user.name not set"
EMAIL=${GIT_AUTHOR_EMAIL:-$(git -C "$TOP" config user.email)} ||
	die "git user.email not set"
# Dates from the project's last commit, so that the same tree always
# gives the same series.
DATE=$(git -C "$TOP" log -1 --format=%cD 2>/dev/null) || DATE="@0 +0000"
export GIT_AUTHOR_NAME="$NAME" GIT_AUTHOR_EMAIL="$EMAIL"
export GIT_COMMITTER_NAME="$NAME" GIT_COMMITTER_EMAIL="$EMAIL"
export GIT_AUTHOR_DATE="$DATE" GIT_COMMITTER_DATE="$DATE"

# --- base: the kernel source as one commit -------------------------------

# Extracting and committing 70000 files takes a minute; do it again only
# when the tarball changed (a new linux-source upload).
prepare_base() {
	local stamp
	stamp="$(stat -c '%s %Y' "$KSRC_TAR") $KSRC_TAR"
	if [ -f "$P/base.stamp" ] && [ "$(cat "$P/base.stamp")" = "$stamp" ] &&
	   git -C "$P/base" rev-parse -q --verify base >/dev/null; then
		return
	fi
	log "extracting $KSRC_TAR into $P/base"
	# A worktree of the old base points into it: drop both.
	rm -rf "$P/base" "$P/verify" "$P/obj" "$P/base.stamp"
	mkdir -p "$P/base"
	nice -n 19 tar -xJf "$KSRC_TAR" -C "$P/base" --strip-components=1
	git -C "$P/base" init -q
	git -C "$P/base" config core.autocrlf false
	git -C "$P/base" add -A -f
	git -C "$P/base" commit -q -m base
	git -C "$P/base" tag -f base >/dev/null
	echo "$stamp" > "$P/base.stamp"
}

# --- generation ----------------------------------------------------------

# What compat/Kbuild.compat defines against this kernel, found by the
# same make code the module build runs (srctree and HP_KSRC are the full
# source here), then resolved in the sources with unifdef.
compat_flags() {
	printf 'include %s\nall:\n\t@echo $(HP_COMPAT_FLAGS)\n' \
		"$TOP/compat/Kbuild.compat" |
		make -s -f - srctree="$P/base" HP_KSRC="$P/base"
}

UNIFDEF_ARGS=()
set_unifdef_args() {
	local defined sym
	defined=" $(compat_flags) "
	log "compat against $(make -s -C "$P/base" kernelversion):${defined% }"
	# Every symbol the sources test is either defined or undefined: none
	# may stay an #ifdef in the kernel tree.
	for sym in $(grep -rhoE '\<HP_HAVE_[A-Z0-9_]+' "$TOP/drivers" \
			"$TOP/samples" | sort -u); do
		if [[ $defined == *" -D$sym "* ]]; then
			UNIFDEF_ARGS+=("-D$sym")
		else
			UNIFDEF_ARGS+=("-U$sym")
		fi
	done
}

# Print the project's file $1 as it goes to kernel path $2.
render() {
	local src=$1 kpath=$2 rc=0 head
	case $src in
	*.c|*.h)
		unifdef "${UNIFDEF_ARGS[@]}" "$src" || rc=$?
		# 0: nothing to resolve, 1: resolved, 2: error
		[ $rc -le 1 ] || die "unifdef failed on $src"
		;;
	*)	cat "$src" ;;
	esac |
	# A header comment written for the out-of-tree build is replaced by
	# heads/<name>.comment (the lines between "/*" and the first "*/").
	if head=$SPEC/heads/$(basename "$kpath").comment; [ -f "$head" ]; then
		awk -v head="$head" '
			NR == 2 && $0 == "/*" { print; skip = 1
				while ((getline l < head) > 0) print l; next }
			skip { if (/\*\/$/) skip = 0; next }
			{ print }'
	else
		cat
	fi |
	# Changes the kernel tree needs that the project's file does not have
	# yet: edits/<kernel path>.sed.  Each is for main to take, then drop.
	if [ -f "$SPEC/edits/$kpath.sed" ]; then
		sed -f "$SPEC/edits/$kpath.sed"
	else
		cat
	fi |
	# Documentation: what holds only for the out-of-tree build (Debian's
	# kernels, this tree's scripts and test runner) sits between the rst
	# comments ".. out-of-tree-start" and ".. out-of-tree-end", with the
	# blank line after each, and stays out of the kernel tree (so does
	# a blank line the last such block leaves at the end).
	if [[ $kpath == *.rst ]]; then
		awk '/^\.\. out-of-tree-start$/ { skip = 1 }
		     !skip && !drop { print }
		     drop { drop = 0; if ($0 != "") print }
		     /^\.\. out-of-tree-end$/ { skip = 0; drop = 1 }' |
		awk '/^$/ { blank++; next }
		     { while (blank) { print ""; blank-- } print }'
	else
		cat
	fi
}

# Put the file into the index of the series (no working tree needed).
stage() {
	local kpath=$1 file=$2 mode=100644 blob
	[ ! -x "$file" ] || mode=100755
	blob=$(git -C "$P/base" hash-object -w --stdin < "$file")
	git -C "$P/base" update-index --add --cacheinfo "$mode,$blob,$kpath"
}

# A diff of the kernel's own files (Kconfig, Makefile, index entries),
# written against 6.1: applied as it is, or, where another kernel moved
# the lines around it, by its anchors (scripts/patches/anchor-apply.py).
apply_diff() {
	local msg=$1 diff=$2 tmp path
	git -C "$P/base" apply --cached "$diff" 2>/dev/null && return
	tmp=$(mktemp -d)
	for path in $(sed -n 's|^+++ b/||p' "$diff"); do
		mkdir -p "$tmp/a/$(dirname "$path")"
		git -C "$P/base" show ":$path" > "$tmp/a/$path" ||
			die "$msg: $(basename "$diff"): no $path in the kernel"
	done
	python3 "$SPEC/anchor-apply.py" "$diff" "$tmp" > "$tmp/list" ||
		die "$msg: $(basename "$diff") does not apply"
	while read -r path; do
		stage "$path" "$tmp/b/$path"
	done < "$tmp/list"
	log "$(basename "$diff"): applied by its anchors"
	rm -rf "$tmp"
}

# One patch: message file $1, then its items (see scripts/patches/series).
commit_patch() {
	local msg=$1 item src kpath tmp tree parent
	shift
	tmp=$(mktemp -d)
	for item in "$@"; do
		case $item in
		-*)	git -C "$P/base" update-index --force-remove "${item#-}" ;;
		@*)	apply_diff "$msg" "$SPEC/${item#@}" ;;
		*)	src=${item%%=*}; kpath=${item#*=}
			[ -f "$TOP/$src" ] || die "$msg: no file $src"
			render "$TOP/$src" "$kpath" > "$tmp/f"
			[ ! -x "$TOP/$src" ] || chmod +x "$tmp/f"
			stage "$kpath" "$tmp/f"
			rm -f "$tmp/f" ;;
		esac
	done
	{ cat "$SPEC/$msg"; echo; echo "Signed-off-by: $NAME <$EMAIL>"; } \
		> "$tmp/msg"
	tree=$(git -C "$P/base" write-tree)
	parent=$(git -C "$P/base" rev-parse series)
	git -C "$P/base" update-ref refs/heads/series \
		"$(git -C "$P/base" commit-tree "$tree" -p "$parent" -F "$tmp/msg")"
	rm -rf "$tmp"
}

# Commit every patch of scripts/patches/series on branch "series" of
# base, with an index of our own: base's checkout is never touched.
generate() {
	local line msg items=()
	set_unifdef_args
	export GIT_INDEX_FILE=$P/series.index
	rm -f "$GIT_INDEX_FILE"
	git -C "$P/base" read-tree base
	git -C "$P/base" update-ref refs/heads/series base
	msg=
	while IFS= read -r line; do
		line=${line%%#*}
		[ -n "${line// /}" ] || continue
		if [[ $line == [[:space:]]* ]]; then
			read -ra more <<< "$line"
			items+=("${more[@]}")
			continue
		fi
		[ -z "$msg" ] || commit_patch "$msg" "${items[@]}"
		read -ra items <<< "$line"
		msg=${items[0]}
		items=("${items[@]:1}")
	done < "$SPEC/series"
	[ -z "$msg" ] || commit_patch "$msg" "${items[@]}"
	unset GIT_INDEX_FILE
	rm -f "$P/series.index"
}

# The cover letter: format-patch's, with subject and blurb from
# scripts/patches/cover-letter (first line the subject); its @FIGURES@
# line becomes what scripts/patches/figures.py reads from the bench and
# stress results of this tree.
write_series() {
	local cover
	rm -f "$P"/*.patch
	git -C "$P/base" format-patch -q --cover-letter --no-signature \
		--base=base -o "$P" base..series
	cover=$P/0000-cover-letter.patch
	python3 "$SPEC/figures.py" "$TOP" > "$P/figures" ||
		die "scripts/patches/figures.py failed"
	awk -v spec="$SPEC/cover-letter" -v figures="$P/figures" '
		BEGIN { getline subject < spec; getline l < spec }
		/\*\*\* SUBJECT HERE \*\*\*/ { sub(/\*\*\* SUBJECT HERE \*\*\*/, subject) }
		/^\*\*\* BLURB HERE \*\*\*$/ {
			while ((getline l < spec) > 0) {
				if (l != "@FIGURES@") { print l; continue }
				while ((getline f < figures) > 0) print f
			}
			next }
		{ print }' "$cover" > "$cover.new"
	mv "$cover.new" "$cover"
	log "wrote $(ls "$P"/[0-9]*.patch | grep -vc cover-letter) patches" \
		"and the cover letter to $P"
}

# --- verification --------------------------------------------------------

# The debug tier's kernel config (tools/testing/vm/debug.config on
# allnoconfig) plus what the series builds, as modules.
SERIES_CONFIG=(
	-m VHOST_SCSI -m VFIO_MDEV -e SAMPLES -m SAMPLE_VFIO_MDEV_MTTY
	-m SAMPLE_VFIO_MDEV_LIFECYCLE -d WERROR
)

configure() {
	"$P/verify/scripts/config" --file "$P/obj/.config" "${SERIES_CONFIG[@]}"
	kmake -C "$P/verify" O="$P/obj" olddefconfig >/dev/null
}

# A fresh copy of base: a worktree of it, reset and cleaned.  Files that
# did not change keep their times, so obj/ stays prepared between runs.
prepare_verify() {
	if [ -d "$P/verify/.git" ] || [ -f "$P/verify/.git" ]; then
		git -C "$P/verify" am --abort >/dev/null 2>&1 || true
		git -C "$P/verify" checkout -q -f --detach base
		git -C "$P/verify" clean -q -fdx
	else
		rm -rf "$P/verify"
		git -C "$P/base" worktree prune
		git -C "$P/base" worktree add -q --detach "$P/verify" base
	fi
	if [ ! -f "$P/obj/.prepared" ]; then
		log "configuring and preparing $P/obj (once)"
		rm -rf "$P/obj"
		mkdir -p "$P/obj"
		kmake -C "$P/verify" O="$P/obj" \
			KCONFIG_ALLCONFIG="$TOP/tools/testing/vm/debug.config" \
			allnoconfig >/dev/null
		configure
		kmake -C "$P/verify" O="$P/obj" modules_prepare \
			> "$P/obj/prepare.log" 2>&1 ||
			die "modules_prepare failed, see $P/obj/prepare.log"
		touch "$P/obj/.prepared"
	fi
}

# Build what patch $1 touched, W=1; print "yes" or "no (<where>)".
# Kernel directories are built whole (make dir/), and each C file the
# patch adds is also compiled on its own: a driver may grow file by file
# before the patch that links it.  Selftests are built with their own
# Makefile, through lib.mk.  A warning fails the build.
build_patch() {
	local n=$1 f dirs=() objs=() tests=() d warns blog=$P/obj/build-$1.log
	: > "$blog"
	while IFS= read -r f; do
		[ -e "$P/verify/$f" ] || continue
		case $f in
		drivers/*/Kconfig|samples/Kconfig) ;;
		drivers/*|samples/*)
			dirs+=("$(dirname "$f")/")
			[[ $f != *.c ]] || objs+=("${f%.c}.o") ;;
		tools/testing/selftests/*/*)
			d=${f#tools/testing/selftests/}
			tests+=("${d%%/*}") ;;
		esac
	done < <(git -C "$P/verify" diff --name-only HEAD~1 HEAD)
	mapfile -t dirs < <(printf '%s\n' "${dirs[@]}" | sort -u | sed '/^$/d')
	mapfile -t tests < <(printf '%s\n' "${tests[@]}" | sort -u | sed '/^$/d')
	configure
	if [ ${#dirs[@]} -gt 0 ] &&
	   ! kmake -C "$P/verify" O="$P/obj" W=1 "${dirs[@]}" "${objs[@]}" \
		>> "$blog" 2>&1; then
		echo "no (${dirs[*]}; see $blog)"
		return
	fi
	for d in "${tests[@]}"; do
		# lib.mk writes into OUTPUT but leaves making it to its caller.
		mkdir -p "$P/obj/selftests/$d"
		if ! kmake -C "$P/verify/tools/testing/selftests/$d" \
			OUTPUT="$P/obj/selftests/$d" >> "$blog" 2>&1; then
			echo "no (selftests/$d; see $blog)"
			return
		fi
	done
	# Compiler warnings (file:line:col) in what the patch touched; the
	# kernel's own files and its host tools (bison) are not ours to judge.
	warns=$(grep -E ':[0-9]+:[0-9]+: warning:' "$blog" |
		grep -F -f <(git -C "$P/verify" diff --name-only HEAD~1 HEAD) |
		wc -l) || true
	if [ "$warns" -gt 0 ]; then
		echo "no ($warns warnings; see $blog)"
		return
	fi
	if [ ${#dirs[@]} -eq 0 ] && [ ${#tests[@]} -eq 0 ]; then
		echo "n/a"
	else
		echo "yes (W=1: ${dirs[*]}${tests:+ selftests/${tests[*]}})"
	fi
}

# checkpatch --strict, from the kernel tree.  Two warnings are expected
# and do not fail a patch: FILE_PATH_CHANGES (new files want a MAINTAINERS
# entry, the maintainers' call) and UNKNOWN_COMMIT_ID (base is a tarball,
# without the history a Fixes: tag names).  Prints "clean", "ok (...)"
# or "FAIL (...)".
CHECKPATCH_EXPECTED='FILE_PATH_CHANGES|UNKNOWN_COMMIT_ID'
checkpatch() {
	local patch=$1 types other
	types=$(cd "$P/verify" && PATH=$DEBIAN_PATH perl scripts/checkpatch.pl --strict \
		--terse --no-summary --show-types "$patch" 2>&1 |
		sed -n 's/.*: \(ERROR\|WARNING\|CHECK\):\([A-Z0-9_]*\):.*/\2/p' |
		sort | uniq -c | awk '{printf "%s%s x%s", s, $2, $1; s=", "}') ||
		true
	other=$(echo "$types" | tr ',' '\n' | grep -vE "$CHECKPATCH_EXPECTED" |
		sed '/^ *$/d') || true
	if [ -z "$types" ]; then
		echo clean
	elif [ -z "$other" ]; then
		echo "ok ($types)"
	else
		echo "FAIL ($types)"
	fi
}

# Added lines that speak of this project rather than of the kernel (its
# build, its test runner, its issues, Debian's modules as "stock"): they
# do not fail the series, they are listed for the sources to be reworded.
INTERNAL='HP_|hotplug-kmod|make (check|bench|stress|mutants)|issue [0-9]|mutant|[Ss]tock\>|Debian'
internal_refs() {
	local n
	n=$(grep -E '^\+' "$1" | grep -cE "$INTERNAL") || true
	if [ "$n" = 0 ]; then echo none; else echo "$n lines"; fi
}

# checkpatch checks every SPDX line with scripts/spdxcheck.py, which
# needs Debian's python3-ply and python3-git; without them it fails on
# stderr only, and checkpatch takes every license as valid.  Debian's
# python3 goes first (a python of one's own may lack both), and a bogus
# license must be refused before any patch counts as checked.
DEBIAN_PATH=/usr/bin:$PATH
spdxcheck_works() {
	local out
	out=$(cd "$P/verify" &&
		echo 'SPDX-License-Identifier: GPL-2.0-bogus' |
		PATH=$DEBIAN_PATH scripts/spdxcheck.py - 2>&1) || true
	[[ $out == *"Invalid License ID: GPL-2.0-bogus"* ]] ||
		die "checkpatch's SPDX check does not work (python3-ply," \
			"python3-git; run scripts/setup.sh): $out"
}

verify() {
	local patch n name b c r fails=0
	prepare_verify
	spdxcheck_works
	: > "$P/report"
	for patch in "$P"/[0-9]*.patch; do
		name=$(basename "$patch" .patch)
		[ "$name" != 0000-cover-letter ] || continue
		n=${name%%-*}
		if ! git -C "$P/verify" am -q --keep-cr "$patch" \
			> "$P/obj/am-$n.log" 2>&1; then
			printf '%s  am: FAILED (see %s)\n' "$name" \
				"$P/obj/am-$n.log" | tee -a "$P/report" >&2
			fails=$((fails + 1))
			break
		fi
		b=$(build_patch "$n")
		c=$(checkpatch "$patch")
		[[ $b == yes* || $b == n/a ]] || fails=$((fails + 1))
		[[ $c != FAIL* ]] || fails=$((fails + 1))
		r=$(internal_refs "$patch")
		printf '%s\n    build: %s\n    checkpatch --strict: %s\n    internal references: %s\n' \
			"$name" "$b" "$c" "$r" | tee -a "$P/report" >&2
	done
	log "report in $P/report"
	[ $fails -eq 0 ] || die "$fails failures (git am, build or checkpatch)"
}

mkdir -p "$P"
prepare_base
generate
write_series
[ "$VERIFY" = 0 ] || verify
