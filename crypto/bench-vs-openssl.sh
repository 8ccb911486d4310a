#!/usr/bin/env bash
# Compares casevault-crypto's chunk throughput with `openssl speed` AES-256-GCM on this
# machine and prints a Markdown table. Target: ratio >= 0.8.
#
# Usage: crypto/bench-vs-openssl.sh [criterion args…]
#   e.g. crypto/bench-vs-openssl.sh --measurement-time 2 --warm-up-time 1
# CHUNK_SIZES=16384,65536 limits the chunk sizes benchmarked (default: 16K, 64K, 256K, 1M).
set -euo pipefail

cd "$(dirname "$0")/.."

if ! command -v openssl >/dev/null; then
    apt-get install -y openssl >/dev/null
fi

echo "running openssl speed (3 s)…" >&2
openssl_out=$(openssl speed -evp aes-256-gcm -bytes 16384 -seconds 3 2>/dev/null)
# Last line: "AES-256-GCM   <n>k" — thousands of bytes per second for 16 KiB blocks.
openssl_kbs=$(echo "$openssl_out" | awk '/^AES-256-GCM/ { sub(/k$/, "", $NF); v = $NF } END { print v }')

echo "running the criterion bench…" >&2
cargo bench -p casevault-crypto --bench stream -- "$@" >&2

target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')

python3 - "$target_dir/criterion" "$openssl_kbs" <<'PY'
import json, os, sys

root, openssl_kbs = sys.argv[1], float(sys.argv[2])
openssl = openssl_kbs * 1000 / 1e9  # GB/s

def gbs(group, name, nbytes):
    path = os.path.join(root, group, name, "new", "estimates.json")
    if not os.path.exists(path):
        return None
    ns = json.load(open(path))["mean"]["point_estimate"]
    return nbytes / ns  # bytes per ns = GB/s

print("| operation | throughput (GB/s) | openssl AES-256-GCM 16 KiB (GB/s) | ratio |")
print("|---|---:|---:|---:|")
print(f"| openssl speed -evp aes-256-gcm -bytes 16384 | {openssl:.2f} | {openssl:.2f} | 1.00 |")
for kib in (16, 64, 256, 1024):
    for op in ("encrypt", "decrypt"):
        v = gbs("chunk", f"{op}_{kib}KiB", kib * 1024)
        if v is not None:
            print(f"| {op} {kib} KiB chunk | {v:.2f} | {openssl:.2f} | {v / openssl:.2f} |")
v = gbs("range", "2-chunks-1000B", 1000)
if v is not None:
    path = os.path.join(root, "range", "2-chunks-1000B", "new", "estimates.json")
    us = json.load(open(path))["mean"]["point_estimate"] / 1000
    print(f"| ranged read: 1000 B across 2 × 64 KiB chunks | {us:.1f} µs per read | | |")
PY
