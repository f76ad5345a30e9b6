#!/usr/bin/env bash
# Clustering quality over several seeds: runs `scgnn run` on labelled data sets of
# ../shared/data for every config × seed and prints markdown tables of ARI (mean ±
# spread, spread = max − min over seeds, and per seed), NMI, wall seconds, ms per cell,
# peak RSS (/usr/bin/time), EM iterations and how many runs converged. Optionally also
# a scanpy reference (Leiden on PCA, bench/scanpy_ref.py) and a compact comparison.
# Records machine, date and commit.
#
# Usage: bench/quality.sh [DATASET ...]   (default: every folder of ../shared/data
#        with a counts.csv.gz: chung deng goolam human_kidney mouse_bladder pollen worm_neuron)
# Env:   SEEDS="1 2 3"              seeds (scgnn --seed S)
#        CONFIGS="default quick"    default = the defaults (fast schedule), quick = --quickmode,
#                                   scgnn = --schedule scgnn (scGNN's own epochs; hours on the large sets)
#        EXTRA="..."                extra flags for every scgnn run, e.g. other schedules:
#                                   EXTRA="--Regu-epochs 20 --EM-epochs 10 --EM-iteration 2"
#        SCGNN=/path/to/scgnn       use that binary (no cargo build); unset: cargo build --release
#        OUT=bench/out/quality      run folders OUT/SET-CONFIG-SEED, timings, scanpy JSON
#        OURS=1                     0: skip the scgnn runs (scanpy reference only)
#        SCANPY=auto                auto: run the scanpy reference when `import scanpy` works
#                                   in $VENV; 1: require it; 0: skip
#        VENV=bench/.venv-scanpy    python venv of the reference (never a dependency of scgnn):
#          python3 -m venv bench/.venv-scanpy && bench/.venv-scanpy/bin/pip install scanpy leidenalg igraph scikit-learn
# Relative SCGNN/OUT/VENV paths are taken from the folder the script is called from;
# the defaults are inside the repository. The script works from any folder.
# scanpy recipe: normalize_total, log1p, highly_variable_genes(n_top_genes=2000, subset),
# scale(max_value=10), pca(50, random_state=0), neighbors(15, random_state=0), leiden at
# resolution 0.8 and 0.5 (flavor="igraph", n_iterations=2, random_state=0); "rule" is
# scGNN's choice (0.8 below 2000 cells, else 0.5), "best" the better of the two by ARI.
# Its seconds exclude imports and a warm-up on a synthetic matrix (numba JIT); python runs
# under nice -n 10.
# Cost: default and quick take seconds to a few minutes per run; scgnn runs scGNN's epoch
# counts (minutes for goolam, about half an hour for worm_neuron on 2 cores).
# Smoke test: SCGNN=target/release/scgnn SEEDS=1 CONFIGS=quick \
#   EXTRA="--Regu-epochs 20 --EM-epochs 10 --EM-iteration 2" bench/quality.sh goolam pollen
set -euo pipefail
caller="$PWD"
abs() { case $1 in /*) echo "$1" ;; *) echo "$caller/$1" ;; esac; }
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
data=../shared/data
[ -d "$data" ] || { echo "quality.sh: no data folder $root/$data (expected ../shared/data next to the repository)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "quality.sh: /usr/bin/time is missing (apt-get install time)" >&2; exit 1; }

out="$(if [ -n "${OUT:-}" ]; then abs "$OUT"; else echo "$root/bench/out/quality"; fi)"
venv="$(if [ -n "${VENV:-}" ]; then abs "$VENV"; else echo "$root/bench/.venv-scanpy"; fi)"
seeds=(${SEEDS-1 2 3})
configs=(${CONFIGS-default quick})
extra=(${EXTRA:-})
ours="${OURS:-1}"
scanpy="${SCANPY:-auto}"
sets=("$@")
[ $# -eq 0 ] && sets=($(ls "$data" | while read -r d; do [ -f "$data/$d/counts.csv.gz" ] && echo "$d"; done))
[ ${#sets[@]} -gt 0 ] || { echo "quality.sh: no data set with counts.csv.gz in $data" >&2; exit 1; }
for d in "${sets[@]}"; do
  [ -f "$data/$d/counts.csv.gz" ] && [ -f "$data/$d/labels.csv" ] ||
    { echo "quality.sh: $data/$d needs counts.csv.gz and labels.csv" >&2; exit 1; }
done
for c in "${configs[@]}"; do
  case $c in default | quick | scgnn) ;; *) echo "quality.sh: unknown config $c (default, quick, scgnn)" >&2; exit 2 ;; esac
done
[ "$ours" = 0 ] && configs=()
[ ${#configs[@]} -eq 0 ] || [ ${#seeds[@]} -gt 0 ] || { echo "quality.sh: SEEDS is empty" >&2; exit 2; }

case $scanpy in
  0) run_scanpy=0 ;;
  auto | 1)
    if [ -x "$venv/bin/python3" ] && "$venv/bin/python3" -c "import scanpy, sklearn, igraph" 2>/dev/null; then
      run_scanpy=1
    elif [ "$scanpy" = 1 ]; then
      echo "quality.sh: SCANPY=1 but $venv has no working scanpy; create it with" >&2
      echo "  python3 -m venv $venv && $venv/bin/pip install scanpy leidenalg igraph scikit-learn" >&2
      exit 1
    else
      run_scanpy=0
      echo "quality.sh: scanpy reference skipped (no scanpy in $venv; SCANPY=0 silences this)" >&2
    fi ;;
  *) echo "quality.sh: SCANPY must be auto, 1 or 0" >&2; exit 2 ;;
esac

if [ ${#configs[@]} -gt 0 ]; then
  if [ -n "${SCGNN:-}" ]; then
    bin="$(abs "$SCGNN")"
  else
    cargo build --release --quiet
    bin="$(cargo metadata --format-version 1 --no-deps 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/release/scgnn"
  fi
  [ -x "$bin" ] || { echo "quality.sh: no executable scgnn at $bin" >&2; exit 1; }
fi
mkdir -p "$out"
runs="$out/runs.tsv"
: >"$runs"
failed=0

echo "Machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "Date: $(date -u +%Y-%m-%d), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- src Cargo.toml 2>/dev/null || echo ' (+ uncommitted changes)')"
if [ ${#configs[@]} -gt 0 ]; then
  echo "scgnn: $bin ($("$bin" --version 2>/dev/null || echo '?')), seeds: ${seeds[*]}${extra[*]:+, extra flags: ${extra[*]}}"
fi

# ---- our runs: one line per set × config × seed in runs.tsv ----
for d in "${sets[@]}"; do
  for c in "${configs[@]}"; do
    case $c in default) flags=() ;; quick) flags=(--quickmode) ;; scgnn) flags=(--schedule scgnn) ;; esac
    for s in "${seeds[@]}"; do
      dir="$out/$d-$c-$s"
      rm -rf "$dir"
      if /usr/bin/time -f "%e %M" -o "$out/time" "$bin" -q --seed "$s" run --input "$data/$d/counts.csv.gz" \
        --labels "$data/$d/labels.csv" --output-dir "$dir" --dataset-name "$d" --no-plot \
        "${flags[@]}" "${extra[@]}" >"$out/$d-$c-$s.log" 2>&1; then
        read -r secs kb < <(tail -n 1 "$out/time")
        printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$d" "$c" "$s" "$secs" "$kb" "$dir/${d}_report.json" >>"$runs"
      else
        failed=$((failed + 1))
        echo "quality.sh: $d $c seed $s failed, see $out/$d-$c-$s.log:" >&2
        tail -n 5 "$out/$d-$c-$s.log" >&2
        printf '%s\t%s\t%s\t-\t-\t-\n' "$d" "$c" "$s" >>"$runs"
      fi
    done
  done
done

# ---- scanpy reference: one JSON per set ----
if [ "$run_scanpy" = 1 ]; then
  for d in "${sets[@]}"; do
    if ! nice -n 10 "$venv/bin/python3" bench/scanpy_ref.py "$data/$d/counts.csv.gz" "$data/$d/labels.csv" "$d" \
      >"$out/scanpy-$d.json" 2>"$out/scanpy-$d.log"; then
      failed=$((failed + 1))
      echo "quality.sh: scanpy reference on $d failed, see $out/scanpy-$d.log:" >&2
      tail -n 5 "$out/scanpy-$d.log" >&2
      rm -f "$out/scanpy-$d.json"
    fi
  done
fi

# ---- tables ----
python3 - "$runs" "$out" "$run_scanpy" "${sets[*]}" "${configs[*]}" <<'PY'
import json, os, sys
runs_path, out, run_scanpy, sets, configs = sys.argv[1:]
sets, configs = sets.split(), configs.split()

def fmt(x, p=3):
    return "-" if x is None else f"{x:.{p}f}"

def mean(xs):
    return sum(xs) / len(xs) if xs else None

ours = {}  # (set, config) -> list of per-seed dicts (None for a failed run)
for line in open(runs_path):
    d, c, s, secs, kb, report = line.rstrip("\n").split("\t")
    row = None
    if report != "-":
        try:
            r = json.load(open(report))
            conv = r.get("convergence") or {}
            row = {"seed": s, "ari": r["evaluation"]["ari"], "nmi": r["evaluation"]["nmi"],
                   "secs": float(secs), "mib": int(kb) / 1024, "n_cells": r["n_cells"],
                   "em": len(r["iterations"]) - 1, "converged": conv.get("converged")}
        except (OSError, KeyError, ValueError, TypeError) as e:
            print(f"quality.sh: cannot read {report}: {e!r}", file=sys.stderr)
    ours.setdefault((d, c), []).append(row if row else {"seed": s})

summary = {}
if ours:
    print()
    print("| data set | config | cells | ARI mean ± spread | ARI per seed | NMI mean | seconds mean "
          "| ms per cell | peak RSS MiB (max) | EM iterations per seed | converged |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for d in sets:
        for c in configs:
            rows = ours.get((d, c), [])
            ok = [r for r in rows if "ari" in r]
            aris = [r["ari"] for r in ok]
            secs = mean([r["secs"] for r in ok])
            n_cells = ok[0]["n_cells"] if ok else None
            summary[(d, c)] = (mean(aris), secs)
            per_seed = ", ".join(fmt(r.get("ari")) if "ari" in r else "failed" for r in rows)
            ems = ", ".join(str(r["em"]) if "em" in r else "-" for r in rows)
            known = [r["converged"] for r in ok if r["converged"] is not None]
            conv = f"{sum(known)}/{len(rows)}" if known or not ok else "?"
            spread = max(aris) - min(aris) if aris else None
            print(f"| {d} | {c} | {n_cells if n_cells is not None else '-'} | "
                  f"{fmt(mean(aris))} ± {fmt(spread)} | {per_seed} | "
                  f"{fmt(mean([r['nmi'] for r in ok]))} | {fmt(secs, 1)} | "
                  f"{fmt(secs / n_cells * 1000 if ok else None, 1)} | "
                  f"{fmt(max([r['mib'] for r in ok]) if ok else None, 0)} | {ems} | {conv} |")

ref = {}
if run_scanpy == "1":
    for d in sets:
        p = os.path.join(out, f"scanpy-{d}.json")
        if os.path.exists(p):
            ref[d] = json.load(open(p))
    print()
    print("scanpy reference (Leiden on 50 PCs of 2000 HVGs; seconds exclude imports and JIT warm-up)")
    print()
    print("| data set | cells | ARI res 0.8 (clusters) | ARI res 0.5 (clusters) | best ARI | rule ARI (res) "
          "| NMI best | seconds | seconds without reading |")
    print("|---|---|---|---|---|---|---|---|---|")
    for d in sets:
        j = ref.get(d)
        if not j:
            print(f"| {d} | failed | | | | | | | |")
            continue
        r8, r5 = j["results"]["0.8"], j["results"]["0.5"]
        best = j["results"][str(j["best_resolution"])]
        print(f"| {d} | {j['n_cells']} | {r8['ari']:.3f} ({r8['n_clusters']}) | {r5['ari']:.3f} ({r5['n_clusters']}) "
              f"| {j['best_ari']:.3f} | {j['rule_ari']:.3f} ({j['rule_resolution']}) | {best['nmi']:.3f} "
              f"| {j['seconds_total']:.1f} | {j['seconds_recipe']:.1f} |")
    if ref:
        v = next(iter(ref.values()))["versions"]
        print()
        print("versions: " + ", ".join(f"{k} {x}" for k, x in v.items()) +
              "; leiden " + next(iter(ref.values()))["leiden"])

if summary and ref:
    has = {c: c in configs for c in ("default", "quick")}
    print()
    print("| data set | ours default ARI | ours quick ARI | scanpy best ARI | ours default s | ours quick s | scanpy s |")
    print("|---|---|---|---|---|---|---|")
    for d in sets:
        dflt = summary.get((d, "default"), (None, None))
        quick = summary.get((d, "quick"), (None, None))
        j = ref.get(d)
        print(f"| {d} | {fmt(dflt[0])} | {fmt(quick[0])} | {fmt(j['best_ari'] if j else None)} | "
              f"{fmt(dflt[1], 1)} | {fmt(quick[1], 1)} | {fmt(j['seconds_total'] if j else None, 1)} |")
PY

if [ "$failed" -gt 0 ]; then
  echo "quality.sh: $failed run(s) failed" >&2
  exit 1
fi
