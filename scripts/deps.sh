#!/usr/bin/env bash
# Installs the Debian packages zerg needs that are missing. Idempotent and
# quick when everything is there (one dpkg query). Used by `make deps`.
set -euo pipefail

PKGS=(
    gcc make clang libclang-rt-14-dev   # compilers; libFuzzer comes with clang's runtime
    liblz4-dev libxxhash-dev libxen-dev # the libraries zerg links
    libseccomp-dev                      # zerg serve's workers' system-call filter
    libcurl4-openssl-dev                # template push/pull: HTTP and S3 (remote/)
    pkg-config                          # the installed guest SDK's test (tests/sys/install.sh)
    man-db                              # the Debian package's test reads zerg(1) (tests/sys/deb.sh)
    valgrind clang-format python3       # the leak check, the style check, sys test helpers
    gnuplot-nox                         # zerg bench --plot (make bench)
    nginx-light haproxy wrk curl        # zerg serve's tests and bench: real proxies, real load
    iproute2                            # tests/sys/fleet.sh: hosts in network namespaces
    qemu-system-x86 cpio                # the Xen rig (tests/xen/): Xen + dom0 under QEMU TCG
    musl-tools strace busybox-static file # Linux programs: musl builds, Debian's static busybox
    liblua5.4-dev                       # a static Lua interpreter (examples/lua) from liblua5.4.a
    jq lua5.4                           # dynamically linked Debian programs run as guests
    golang-go nodejs                    # Go and Node.js programs as guests (examples/go, examples/node)
)

missing=()
for p in "${PKGS[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$p")
    fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "deps: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
    SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
# apt may be locked by another apt run for a while (e.g. on a fresh machine).
for i in $(seq 1 30); do
    if $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
        exit 0
    fi
    echo "deps: apt-get failed (attempt $i), retrying in 10 s" >&2
    sleep 10
done
echo "deps: could not install ${missing[*]}" >&2
exit 1
