#!/usr/bin/env bash
# Writes zerg(1) to standard output: one manual page with a section per
# command, made from the commands' own --help (so the page and the help
# cannot disagree). Usage: scripts/mkman.sh [ZERG] > zerg.1
set -euo pipefail
Z=${1:-bin/zerg}
# troff-escape a help text: backslashes, and lines starting with . or '
esc() { sed -e 's/\\/\\e/g' -e "s/^\\([.']\\)/\\\\\\&\\1/"; }
version=$(git describe --always --dirty 2>/dev/null || echo unknown)
cat <<HEAD
.TH ZERG 1 "$(date -u +%Y-%m-%d)" "zerg $version" "User Commands"
.SH NAME
zerg \\- virtual machines ready in a millisecond, restored from warm templates
.SH SYNOPSIS
.B zerg
.I command
.RI [ options ]
.SH DESCRIPTION
HEAD
"$Z" --help | esc | sed -e '1,2d' | awk 'BEGIN{print ".nf"} {print} END{print ".fi"}'
for c in boot template run serve bench cache linux; do
    echo ".SH zerg $c"
    echo ".nf"
    "$Z" "$c" --help 2>&1 | esc
    echo ".fi"
done
cat <<'TAIL'
.SH EXIT STATUS
The same numbers for every command: 0 done (boot and run: the guest's own status, 0\-255),
1 the operation failed, 2 bad command line, 3 not found (template, guest file, page),
4 damaged (template, pages, cache), 124 the guest's deadline, 125 a guest fault,
126 refused (not a valid guest; another backend or format), 127 the host failed.
.SH FILES
.TP
.I $ZERG_HOME/templates, $ZERG_HOME/cache
templates and the shared page cache (default /var/lib/zerg for root, ~/.local/share/zerg)
.TP
.I /dev/shm/zerg-UID-NAME-TAG.img
a template's memory image, shared by this user's processes ($ZERG_IMAGE_DIR)
.SH SEE ALSO
The documents installed with zerg (share/doc/zerg): abi.md, architecture.md, format.md,
proxy.md, security.md, benchmarks.md.
TAIL
