#!/usr/bin/env bash
# Reader and simulator throughput: simulate N cells × 2000 genes, then read the
# result back in every format. Prints a markdown table (wall seconds, cells/s,
# peak RSS from /usr/bin/time). Usage: bench/io.sh [N ...]   (default: 10000 1000000)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
bin="${CARGO_TARGET_DIR:-target}/release/scgnn"
sizes=("$@")
[ $# -eq 0 ] && sizes=(10000 1000000)
work="${BENCH_DIR:-bench/out}"
mkdir -p "$work"
measure() { # label cells cmd...
  local label=$1 cells=$2; shift 2
  local log="$work/time.log"
  /usr/bin/time -f "%e %M" -o "$log" "$@" >/dev/null
  read -r secs kb <"$log"
  awk -v l="$label" -v c="$cells" -v s="$secs" -v k="$kb" \
    'BEGIN { printf "| %s | %d | %.2f | %.0f | %.0f |\n", l, c, s, (s > 0 ? c / s : 0), k / 1024 }'
}
echo "| step | cells | seconds | cells/s | peak RSS (MiB) |"
echo "|---|---|---|---|---|"
for n in "${sizes[@]}"; do
  d="$work/sim$n"
  rm -rf "$d"
  measure "simulate → counts.csv.gz" "$n" $bin -q simulate --cells "$n" --genes 2000 --clusters 10 --output-dir "$d"
  measure "read CSV.gz" "$n" $bin -q info -i "$d/counts.csv.gz"
  measure "convert CSV.gz → 10X mtx" "$n" $bin -q convert -i "$d/counts.csv.gz" -o "$d/mtx" --output-format 10x-mtx
  measure "read 10X mtx" "$n" $bin -q info -i "$d/mtx"
  if $bin -q convert -i "$d/mtx" -o "$d/counts.h5ad" 2>/dev/null; then
    measure "read h5ad" "$n" $bin -q info -i "$d/counts.h5ad"
  fi
  if $bin -q convert -i "$d/mtx" -o "$d/counts.h5" --output-format 10x-h5 2>/dev/null; then
    measure "read 10X h5" "$n" $bin -q info -i "$d/counts.h5"
  fi
  rm -rf "$d"
done
