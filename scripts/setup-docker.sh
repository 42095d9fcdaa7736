#!/usr/bin/env bash
# Makes the Docker tier of the tests runnable: a Docker engine that answers, the suite's test
# image (scripts/build-test-image.sh, reused when present) and the image on top of it with extra
# packages that netns-tests/tests/own_image.rs uses. Without a Docker engine it says
# so and exits 0: the Docker tier's tests then print why and skip (and fail under CI=true).
# Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v docker >/dev/null 2>&1; then
    echo "setup-docker: no docker command: the Docker tier cannot run here" >&2
    exit 0
fi
if ! docker info >/dev/null 2>&1; then
    echo "setup-docker: the Docker engine does not answer; starting it" >&2
    if ! service docker start >/dev/null 2>&1 && command -v dockerd >/dev/null 2>&1; then
        nohup dockerd >/var/log/fw-dockerd.log 2>&1 &
    fi
    for _ in $(seq 1 30); do
        docker info >/dev/null 2>&1 && break
        sleep 1
    done
fi
if ! docker info >/dev/null 2>&1; then
    echo "setup-docker: the Docker engine is not running: the Docker tier cannot run here" >&2
    exit 0
fi
start=$(date +%s)
tag=$(scripts/build-test-image.sh 2>/var/tmp/fw-build-test-image.log) || {
    echo "setup-docker: building the test image failed (log: /var/tmp/fw-build-test-image.log):" >&2
    tail -20 /var/tmp/fw-build-test-image.log >&2
    exit 1
}
echo "setup-docker: test image $tag ready in $(($(date +%s) - start)) s"
# The image of netns-tests/tests/own_image.rs (the test builds it too when missing): the test
# image plus the packages a script of the claude-code family needs.
start=$(date +%s)
own=$(scripts/build-test-image.sh --extra-packages aggregate,dnsmasq --repo fw-conformance-own-test \
    2>>/var/tmp/fw-build-test-image.log) || {
    echo "setup-docker: building the image with extra packages failed (log: /var/tmp/fw-build-test-image.log):" >&2
    tail -20 /var/tmp/fw-build-test-image.log >&2
    exit 1
}
echo "setup-docker: image with extra packages $own ready in $(($(date +%s) - start)) s"
