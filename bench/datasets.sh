#!/usr/bin/env bash
# Runs the pipeline (defaults, --paper, --quickmode) and both imputation benchmarks on
# every labelled data set in ../shared/data and prints markdown tables: clustering
# quality against labels.csv, wall seconds, peak RSS (/usr/bin/time), dropout
# median L1 / cosine with the zero and gene-mean baselines, MCV error with the none
# and gene-mean baselines. Also records machine, date and commit.
#
# Usage: bench/datasets.sh [DATASET ...]   (default: every folder of ../shared/data)
# Env:   CONFIGS="default paper quick"  BENCH="dropout mcv"  REPEATS=3 (dropout masks)
#        (CONFIGS= or BENCH= set empty skips that part)
#        OUT=bench/out
# Every step runs the full pipeline at scGNN's epoch counts: about 5 min for goolam,
# 15 min for chung and 2.5 h for worm_neuron on 2 cores (each dropout repeat is a run).
set -euo pipefail
cd "$(dirname "$0")/.."
data=../shared/data
[ -d "$data" ] || { echo "no $data folder" >&2; exit 1; }
cargo build --release --quiet
bin="$(cargo metadata --format-version 1 --no-deps 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/release/scgnn"
out="${OUT:-bench/out}"
mkdir -p "$out"
sets=("$@")
[ $# -eq 0 ] && sets=($(ls "$data" | while read -r d; do [ -f "$data/$d/counts.csv.gz" ] && echo "$d"; done))
configs=(${CONFIGS-default paper quick})
benches=(${BENCH-dropout mcv})
repeats="${REPEATS:-3}"

echo "Machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "Date: $(date -u +%Y-%m-%d), commit $(git rev-parse --short HEAD)"
if [ ${#configs[@]} -gt 0 ]; then
  echo
  echo "| data set | config | ARI | NMI | silhouette | clusters | EM iterations | seconds | peak RSS (MiB) |"
  echo "|---|---|---|---|---|---|---|---|---|"
fi
for d in "${sets[@]}"; do
  for c in "${configs[@]}"; do
    case $c in
      default) flags=() ;;
      paper) flags=(--paper) ;;
      quick) flags=(--quickmode) ;;
      *) echo "unknown config $c" >&2; exit 2 ;;
    esac
    dir="$out/$d-$c"
    rm -rf "$dir"
    /usr/bin/time -f "%e %M" -o "$out/time" "$bin" -q run --input "$data/$d/counts.csv.gz" \
      --labels "$data/$d/labels.csv" --output-dir "$dir" --dataset-name "$d" --no-plot "${flags[@]}" >/dev/null
    read -r secs kb <"$out/time"
    python3 - "$dir/${d}_report.json" "$d" "$c" "$secs" "$kb" <<'PY'
import json, sys
path, d, c, secs, kb = sys.argv[1:]
r = json.load(open(path))
e = r["evaluation"]
sil = e.get("silhouette")
print(f"| {d} | {c} | {e['ari']:.3f} | {e['nmi']:.3f} | {sil:.3f} | {r['iterations'][-1]['n_clusters']} | "
      f"{len(r['iterations']) - 1} | {float(secs):.1f} | {int(kb) // 1024} |" if sil is not None else
      f"| {d} | {c} | {e['ari']:.3f} | {e['nmi']:.3f} | - | {r['iterations'][-1]['n_clusters']} | "
      f"{len(r['iterations']) - 1} | {float(secs):.1f} | {int(kb) // 1024} |")
PY
  done
done

for b in "${benches[@]}"; do
  echo
  for d in "${sets[@]}"; do
    echo "#### $b on $d (defaults, seed 1$([ "$b" = dropout ] && echo ", $repeats repeats"))"
    echo
    echo '```'
    if [ "$b" = dropout ]; then
      /usr/bin/time -f "wall %e s, peak RSS %M KB" "$bin" -q benchmark dropout --input "$data/$d/counts.csv.gz" --repeats "$repeats" 2>&1
    else
      /usr/bin/time -f "wall %e s, peak RSS %M KB" "$bin" -q benchmark mcv --input "$data/$d/counts.csv.gz" 2>&1 || true
    fi
    echo '```'
    echo
  done
done
