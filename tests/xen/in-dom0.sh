#!/bin/sh
# Run inside the rig's dom0 (cwd /zerg): zerg's Xen tests. Every line goes
# back to the host; PASS:/FAIL:/SKIP: lines are counted there.
./build/test/test_xen
if [ -x ./build/test-asan/test_xen ]; then
    ASAN_OPTIONS=detect_leaks=1:halt_on_error=1 ./build/test-asan/test_xen | sed 's/^\([A-Z]*\): test_xen/\1: asan\/test_xen/'
fi
# The zerg command itself sees the backend.
if ./bin/zerg boot --help >/dev/null 2>&1; then
    echo "PASS: zerg-runs-in-dom0"
else
    echo "FAIL: zerg-runs-in-dom0: bin/zerg does not start in dom0"
fi
