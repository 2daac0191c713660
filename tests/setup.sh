#!/usr/bin/env bash
# Installs what building and testing Argus needs on a fresh Debian machine that has only the
# Rust toolchain. Installs nothing when everything is already there, so it is cheap to repeat.
set -euo pipefail

sudo_if_needed() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

need=()
command -v protoc >/dev/null || need+=(protobuf-compiler)
# bindgen (RocksDB's bindings) loads libclang itself; libclang-cpp, which some images carry
# without it, does not count.
compgen -G "/usr/lib/llvm-*/lib/libclang.so" >/dev/null || need+=(libclang-dev)
command -v nats-server >/dev/null || need+=(nats-server)
command -v docker-registry >/dev/null || need+=(docker-registry)
command -v skopeo >/dev/null || need+=(skopeo)
command -v rpmbuild >/dev/null || need+=(rpm)
command -v go >/dev/null || need+=(golang-go)
command -v openssl >/dev/null || need+=(openssl)
command -v dpkg >/dev/null || need+=(dpkg)
command -v python3 >/dev/null || need+=(python3 python3-pip)
# Reference implementations of version ordering the tests compare against.
/usr/bin/python3 -c "import rpm" 2>/dev/null || need+=(python3-rpm)
command -v ruby >/dev/null || need+=(ruby)
command -v php >/dev/null || need+=(php-cli)
[ -e /usr/share/php/Composer/Semver/autoload.php ] || need+=(php-composer-semver)
command -v mvn >/dev/null || need+=(maven)
command -v java >/dev/null || need+=(default-jre-headless)
command -v npm >/dev/null || need+=(npm)
if [ "${#need[@]}" -gt 0 ]; then
    echo "setup: installing ${need[*]}" >&2
    sudo_if_needed apt-get update -qq
    DEBIAN_FRONTEND=noninteractive sudo_if_needed apt-get install -y -qq "${need[@]}" >/dev/null
fi

# Reference implementations the tests compare against: SBOM validators, CVSS calculator.
python_refs=("cyclonedx-python-lib[json-validation]" spdx-tools cvss packaging)
if ! python3 -c "import cyclonedx.validation.json, jsonschema, spdx_tools, cvss, packaging" 2>/dev/null; then
    echo "setup: installing ${python_refs[*]}" >&2
    python3 -m pip install -q "${python_refs[@]}" 2>/dev/null \
        || python3 -m pip install -q --break-system-packages "${python_refs[@]}"
fi

# AWS emulator and client for the discovery tests.
if ! python3 -c "import moto.server, boto3, flask_cors" 2>/dev/null; then
    echo "setup: installing moto[server] boto3" >&2
    python3 -m pip install -q "moto[server]==5.2.1" boto3 2>/dev/null \
        || python3 -m pip install -q --break-system-packages "moto[server]==5.2.1" boto3
fi

[ -d "$(npm root -g 2>/dev/null)/semver" ] || npm install -g --silent semver

command -v cargo-nextest >/dev/null || cargo install --locked cargo-nextest
