# Shared helpers for the system tests (sourced, not run).
# Each test prints PASS:/FAIL:/SKIP: lines; run.sh counts them.
cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 1
T_FAILED=0
TMP=$(mktemp -d /tmp/zerg-sys.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

pass() { echo "PASS: $1"; }
fail() { echo "FAIL: $1: $2"; T_FAILED=1; }
skip() { echo "SKIP: $1: $2"; }

# kvm_usable: /dev/kvm exists and this user can open it read-write.
kvm_usable() { [ -c /dev/kvm ] && [ -r /dev/kvm ] && [ -w /dev/kvm ]; }

# The zerg binaries to test: the normal build, and the ASan+UBSan one if built.
zerg_bins() {
    echo bin/zerg
    [ -x bin/zerg-asan ] && echo bin/zerg-asan
}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
