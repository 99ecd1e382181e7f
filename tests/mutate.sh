#!/usr/bin/env bash
# Mutation checks: each guard in the suite must fail against the code it guards
# broken on purpose. tests/mutations/NAME.sh describes one mutation:
#
#   MUT_DESC="what is broken, and which guard must catch it"
#   MUT_BUILD="make targets the check needs"     (empty: build nothing)
#   MUT_TIMEOUT=seconds                          (default 300)
#   mut_apply()  edits files in the current directory (a scratch copy of the
#                tree); returns non-zero if what it edits is not there
#   mut_check()  runs the guard; exits 0 if the guard passed
#
# For each one this script copies the tree (sources and the current build, so
# make only rebuilds what the mutation touched) into a scratch directory,
# applies the mutation there, builds, runs the check, and prints
#   PASS: mutation/NAME: caught (...)      the guard failed, as it must
#   FAIL: mutation/NAME: ...               the guard passed with the code broken,
#                                          or the mutation did not apply or build
# The working tree is never touched.
#
#   tests/mutate.sh              every mutation
#   tests/mutate.sh NAME...      those named (file names without .sh)
#   tests/mutate.sh --list       name and description of each
#   MUTATE_KEEP=1                keep the scratch copies (their paths are printed)
set -u
cd "$(dirname "$0")/.." || exit 1
top=$PWD
if [ "${1:-}" = --list ]; then
    for f in tests/mutations/*.sh; do
        printf '%-34s %s\n' "$(basename "$f" .sh)" "$(bash -c "source '$f'; echo \"\$MUT_DESC\"")"
    done
    exit 0
fi
names=("$@")
current=""
# An interrupted run (a timeout, ^C) leaves no scratch copy behind.
trap '[ -n "$current" ] && [ "${MUTATE_KEEP:-0}" != 1 ] && rm -rf "$current" "$current".before "$current".after "$current".log' EXIT
if [ ${#names[@]} -eq 0 ]; then
    for f in tests/mutations/*.sh; do names+=("$(basename "$f" .sh)"); done
fi
failed=0

# scratch_copy DIR: the tree's files (tracked and new, not ignored) and its
# build, with the Xen rig's large downloads linked rather than copied.
scratch_copy() {
    local d=$1
    git ls-files -z -co --exclude-standard | tar -c --null -T - -f - | tar -x -C "$d" -f -
    mkdir -p "$d/build"
    [ -d bin ] && cp -a bin "$d/"
    local e
    for e in build/*; do
        case "$e" in
        build/xen-rig | build/fuzz-corpus | build/test-logs) ;;
        *) cp -a "$e" "$d/build/" ;;
        esac
    done
    if [ -d build/xen-rig ]; then
        mkdir -p "$d/build/xen-rig/out"
        for e in debs root; do
            [ -e "build/xen-rig/$e" ] && ln -s "$top/build/xen-rig/$e" "$d/build/xen-rig/$e"
        done
        for e in xen vmlinux; do
            [ -e "build/xen-rig/out/$e" ] && ln -s "$top/build/xen-rig/out/$e" "$d/build/xen-rig/out/$e"
        done
    fi
}

for name in "${names[@]}"; do
    file=$top/tests/mutations/$name.sh
    if [ ! -f "$file" ]; then
        echo "FAIL: mutation/$name: no such mutation ($file)"
        failed=1
        continue
    fi
    d=$(mktemp -d "/tmp/zerg-mutation-$name.XXXXXX")
    current=$d
    log=$d.log
    (
        MUT_DESC="" MUT_BUILD="" MUT_TIMEOUT=300
        # shellcheck source=/dev/null
        source "$file"
        scratch_copy "$d"
        cd "$d" || exit 10
        find . -type f -printf '%p %s %T@\n' | sort >"$d.before"
        mut_apply >"$log" 2>&1 || exit 11
        find . -type f -printf '%p %s %T@\n' | sort >"$d.after"
        changed=$(diff "$d.before" "$d.after" | sed -n 's/^[<>] \([^ ]*\) .*/\1/p' | sort -u | head -n 5)
        [ -n "$changed" ] || exit 12
        echo "mutated:" $changed >>"$log"
        if [ -n "$MUT_BUILD" ]; then
            # shellcheck disable=SC2086
            make --no-print-directory $MUT_BUILD >>"$log" 2>&1 || exit 13
        fi
        start=$(date +%s)
        timeout --kill-after=10 "$MUT_TIMEOUT" bash -c "source '$file'; mut_check" >>"$log" 2>&1
        rc=$?
        echo "mut_check exited $rc after $(($(date +%s) - start)) s" >>"$log"
        [ $rc -ne 0 ] || exit 14
        exit 0
    )
    rc=$?
    desc=$(bash -c "source '$file'; echo \"\$MUT_DESC\"")
    case $rc in
    0) echo "PASS: mutation/$name: caught ($desc; $(tail -n 1 "$log"))" ;;
    11) echo "FAIL: mutation/$name: the mutation does not apply (the code it breaks has moved?)" ;;
    12) echo "FAIL: mutation/$name: mut_apply changed no file" ;;
    13) echo "FAIL: mutation/$name: the mutated tree does not build" ;;
    14) echo "FAIL: mutation/$name: the guard passed with the code broken: $desc" ;;
    *) echo "FAIL: mutation/$name: harness error (status $rc)" ;;
    esac
    if [ $rc -ne 0 ]; then
        failed=1
        tail -n 15 "$log" | sed 's/^/    /'
    fi
    if [ "${MUTATE_KEEP:-0}" = 1 ]; then
        echo "# mutation/$name: scratch copy $d, log $log"
    else
        rm -rf "$d" "$d.before" "$d.after" "$log"
    fi
done
exit $failed
