#!/usr/bin/env bash
# Scale series of the whole pipeline on simulated data: for each size, simulate N
# cells × 2 000 genes in 10 clusters (h5ad, the fastest reader), run `scgnn run` on
# it and print a markdown table of wall seconds, peak RSS and ARI, then one row per
# phase (EM iterations summed) with seconds, epochs and the peak RSS at its end.
#
# Usage: bench/scale.sh [N ...]                 (default: 10000 100000 1000000)
# Env:   RUN_ARGS="--quickmode"                 extra `scgnn run` flags for every size
#        BENCH_DIR=bench/out                    scratch folder (removed per size)
# A size the memory check refuses prints the refusal instead of figures.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
bin="${CARGO_TARGET_DIR:-target}/release/scgnn"
sizes=("$@")
[ $# -eq 0 ] && sizes=(10000 100000 1000000)
run_args=(${RUN_ARGS:---quickmode})
work="${BENCH_DIR:-bench/out}"
mkdir -p "$work"

echo "Machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "Date: $(date -u +%Y-%m-%d), commit $(git rev-parse --short HEAD), run flags: ${run_args[*]}"
for n in "${sizes[@]}"; do
  d="$work/scale$n"
  rm -rf "$d"
  /usr/bin/time -f "%e %M" -o "$work/time.log" \
    "$bin" -q simulate --cells "$n" --genes 2000 --clusters 10 --format h5ad --output-dir "$d" >/dev/null
  read -r sim_s sim_kb <"$work/time.log"
  echo
  echo "### $n cells (simulated in ${sim_s} s, peak RSS $((sim_kb / 1024)) MiB)"
  echo
  if ! /usr/bin/time -f "%e %M" -o "$work/time.log" "$bin" -q run --input "$d/counts.h5ad" \
    --labels "$d/labels.csv" --output-dir "$d/out" --dataset-name scale --no-plot "${run_args[@]}" \
    >/dev/null 2>"$d/stderr"; then
    echo "run failed: $(tail -n 1 "$d/stderr")"
    rm -rf "$d"
    continue
  fi
  read -r secs kb <"$work/time.log"
  python3 - "$d/out/scale_report.json" "$secs" "$kb" <<'PY'
import json, re, sys
from collections import OrderedDict
path, secs, kb = sys.argv[1:]
r = json.load(open(path))
e = r["evaluation"]
print(f"Total {float(secs):.1f} s, peak RSS {int(kb) // 1024} MiB, ARI {e['ari']:.3f}, NMI {e['nmi']:.3f}, "
      f"{r['iterations'][-1]['n_clusters']} clusters, {len(r['iterations']) - 1} EM iterations "
      f"({r['convergence']['message']}), estimated peak before training {r['estimated_peak_bytes'] / 2**20:.0f} MiB")
print()
print("| phase | runs | seconds | epochs | peak RSS at end (MiB) | KNN recall@k (1 000 cells) |")
print("|---|---|---|---|---|---|")
agg = OrderedDict()
for p in r["phases"]:
    name = re.sub(r"^em\d+\.", "em*.", p["name"])
    a = agg.setdefault(name, [0, 0.0, 0, 0.0, []])
    a[0] += 1
    a[1] += p["seconds"]
    a[2] += p["epochs"]
    a[3] = max(a[3], p.get("peak_rss_mib") or 0.0)
    if p.get("knn_recall") is not None:
        a[4].append(p["knn_recall"])
for name, (runs, s, ep, rss, rec) in agg.items():
    r = ", ".join(f"{v:.3f}" for v in rec) if rec else "exact" if "graph" in name else ""
    print(f"| {name} | {runs} | {s:.1f} | {ep} | {rss:.0f} | {r} |")
PY
  rm -rf "$d"
done
