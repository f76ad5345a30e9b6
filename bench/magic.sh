#!/usr/bin/env bash
# MAGIC reference for the imputation benchmarks: runs MAGIC (magic-impute, in a python
# venv; a reference only, never a dependency of scgnn) on the very dropout masks and MCV
# splits of `scgnn benchmark dropout|mcv` and prints it beside ours (OURS=1), zero / none
# and gene-mean: markdown tables per data set (dropout median L1 mean ± spread over
# seeds, spread = max − min, and per seed; dropout cosine mean; MCV MSE ln(1+x) mean ±
# spread), a summary table and MAGIC's wall seconds. Records machine, date and commit.
#
# Usage: bench/magic.sh [SET ...]   (default: the raw-count sets of ../shared/data:
#        goolam deng worm_neuron human_kidney mouse_bladder; MCV needs integer counts)
# Env:   SEEDS="1 2 3"            seeds (scgnn --seed S: mask, split and MAGIC's random_state)
#        OUT=bench/out/magic      per set and seed: OUT/SET/seed-S/ with the mask, the split,
#                                 every JSON score and MAGIC's logs
#        OURS=0                   1: also run our default imputation on the same mask and
#                                 split (minutes on the large sets) and print it
#        MAGIC=1                  0: skip MAGIC (only ours and the baselines)
#        SCGNN=/path/to/scgnn     use that binary (no cargo build); unset: cargo build --release
#        VENV=bench/.venv-magic   MAGIC's venv, created on first use with the pinned versions
#                                 below (needs a python ≤ 3.11: pandas 2.0.3, which scprep
#                                 requires (< 2.1), has no wheel for newer ones);
#        PYTHON=python3           the interpreter that creates it
#        KEEP=0                   1: keep MAGIC's imputed CSVs (about 0.6 GB each on worm_neuron)
# Relative SCGNN/OUT/VENV paths are taken from the folder the script is called from.
#
# Protocol, per set × seed S (everything on one mask / one split):
#  - mask: `scgnn --seed S benchmark dropout --repeats 1 --write-mask DIR` (10 % of the
#    non-zero counts hidden). Writing the mask runs our whole imputation unless
#    --imputed is given, so with OURS=0 the raw input itself is passed as a stand-in
#    `--imputed … --imputed-scale counts`: our run is skipped and only the (discarded)
#    stand-in score and the baselines are computed (seconds). With OURS=1 that one call
#    writes the mask and scores our default imputation.
#  - split: `scgnn --seed S benchmark mcv --write-split DIR`, the same trick (A/B halves,
#    p = 0.5).
#  - MAGIC: bench/magic_ref.py on masked_counts.csv.gz and on A.csv.gz, two variants:
#    library-size normalisation (to the median), sqrt or ln(1+x) transform, magic.MAGIC()
#    with its defaults (knn=5, decay=1, t=3 — the default, not 'auto' —, n_pca=100,
#    solver='exact'; random_state=S, n_jobs=1), all genes, inverse transform, each cell
#    rescaled to its raw library size, so the output is on the raw count scale.
#    That last step matters: squaring (or exp) of smoothed values loses mass (Jensen), so
#    only undoing the normalisation factor (lib / median) gives on goolam seed 1 a dropout
#    median L1 of 0.38 (sqrt) and 0.78 (log) instead of 0.31 and 0.37; t='auto' gives 0.34
#    and 0.39 with our rescaling.
#  - scores: `scgnn --seed S benchmark dropout|mcv --imputed FILE --imputed-scale counts`
#    (the mask and the split are regenerated from the seed).
#  "MAGIC best" is, per column, the better of the two variants by its mean over seeds
#  (the variant is named). zero / none and gene-mean come from the MAGIC scoring calls
#  (all hidden entries; with MAGIC=0 from ours, whose dropout baselines are restricted to
#  the cells and genes our preprocessing keeps, as are ours).
#  "MAGIC s" is fit_transform only (one variant on one matrix, mean over seeds and over
#  the mask and the split); the wall column of the summary is the whole magic_ref.py
#  (imports, reading, both variants, writing) per seed for mask + split. Python runs
#  under nice -n 10.
# Cost (2 cores): goolam and deng take seconds per seed; the large sets (2 700–5 700
# cells) about a minute or two of MAGIC per seed, plus our imputation if OURS=1.
# Smoke test: SCGNN=target/release/scgnn SEEDS=1 bench/magic.sh goolam
set -euo pipefail
caller="$PWD"
abs() { case $1 in /*) echo "$1" ;; *) echo "$caller/$1" ;; esac; }
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
data=../shared/data
[ -d "$data" ] || { echo "magic.sh: no data folder $root/$data (expected ../shared/data next to the repository)" >&2; exit 1; }

# Versions pinned as tested (python 3.11.7); numpy < 2 because pandas 2.0.3 is built on 1.x.
pins=(magic-impute==3.0.0 graphtools==2.1.0 scprep==1.2.3 tasklogger==1.2.0 PyGSP==0.6.1
  numpy==1.26.4 pandas==2.0.3 scipy==1.17.1 scikit-learn==1.9.1)

out="$(if [ -n "${OUT:-}" ]; then abs "$OUT"; else echo "$root/bench/out/magic"; fi)"
venv="$(if [ -n "${VENV:-}" ]; then abs "$VENV"; else echo "$root/bench/.venv-magic"; fi)"
seeds=(${SEEDS-1 2 3})
ours="${OURS:-0}"
magic="${MAGIC:-1}"
keep="${KEEP:-0}"
sets=("$@")
[ $# -eq 0 ] && sets=(goolam deng worm_neuron human_kidney mouse_bladder)
[ ${#seeds[@]} -gt 0 ] || { echo "magic.sh: SEEDS is empty" >&2; exit 2; }
case $ours in 0 | 1) ;; *) echo "magic.sh: OURS must be 0 or 1" >&2; exit 2 ;; esac
case $magic in 0 | 1) ;; *) echo "magic.sh: MAGIC must be 0 or 1" >&2; exit 2 ;; esac
for d in "${sets[@]}"; do
  [ -f "$data/$d/counts.csv.gz" ] || { echo "magic.sh: no $data/$d/counts.csv.gz" >&2; exit 1; }
done

if [ "$magic" = 1 ]; then
  if ! { [ -x "$venv/bin/python3" ] && "$venv/bin/python3" -c "import magic, scprep, pandas" 2>/dev/null; }; then
    echo "magic.sh: creating $venv (${pins[*]})" >&2
    "${PYTHON:-python3}" -m venv "$venv"
    "$venv/bin/pip" install -q "${pins[@]}" >&2
    "$venv/bin/python3" -c "import magic, scprep, pandas" ||
      { echo "magic.sh: $venv has no working magic-impute" >&2; exit 1; }
  fi
fi

if [ -n "${SCGNN:-}" ]; then
  bin="$(abs "$SCGNN")"
else
  cargo build --release --quiet
  bin="$(cargo metadata --format-version 1 --no-deps 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/release/scgnn"
fi
[ -x "$bin" ] || { echo "magic.sh: no executable scgnn at $bin" >&2; exit 1; }
mkdir -p "$out"
failed=0

echo "Machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "Date: $(date -u +%Y-%m-%d), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- src Cargo.toml 2>/dev/null || echo ' (+ uncommitted changes)')"
echo "scgnn: $bin ($("$bin" --version 2>/dev/null || echo '?')), seeds: ${seeds[*]}, ours: $ours, MAGIC: $magic"

now() { date +%s.%N; }
# fail WHAT LOG: counts a failed step and shows the end of its log.
fail() { failed=$((failed + 1)); echo "magic.sh: $1 failed, see $2:" >&2; tail -n 5 "$2" >&2; }

for d in "${sets[@]}"; do
  in="$data/$d/counts.csv.gz"
  for s in "${seeds[@]}"; do
    dir="$out/$d/seed-$s"
    rm -rf "$dir"
    mkdir -p "$dir"
    # ---- the mask and the split (and ours with OURS=1) ----
    if [ "$ours" = 1 ]; then stand_in=(); else stand_in=(--imputed "$in" --imputed-scale counts); fi
    t=$(now)
    "$bin" --seed "$s" -q benchmark dropout -i "$in" --repeats 1 --write-mask "$dir" --json \
      "${stand_in[@]}" >"$dir/dropout-write.json" 2>"$dir/dropout-write.log" || fail "$d seed $s: writing the mask" "$dir/dropout-write.log"
    "$bin" --seed "$s" -q benchmark mcv -i "$in" --write-split "$dir" --json \
      "${stand_in[@]}" >"$dir/mcv-write.json" 2>"$dir/mcv-write.log" || fail "$d seed $s: writing the split" "$dir/mcv-write.log"
    echo "$(now) $t" | awk '{printf "%.2f\n", $1 - $2}' >"$dir/write-seconds"
    [ "$magic" = 1 ] || continue
    # ---- MAGIC on the masked counts and on A ----
    for what in dropout mcv; do
      if [ $what = dropout ]; then src="$dir/masked_counts.csv.gz"; else src="$dir/A.csv.gz"; fi
      [ -f "$src" ] || continue
      t=$(now)
      if nice -n 10 "$venv/bin/python3" bench/magic_ref.py "$src" "$dir/magic-$what" --seed "$s" \
        >"$dir/magic-$what.json" 2>"$dir/magic-$what.log"; then
        echo "$(now) $t" | awk '{printf "%.2f\n", $1 - $2}' >"$dir/magic-$what-wall"
        for v in sqrt log; do
          if [ $what = dropout ]; then reps=(--repeats 1); else reps=(); fi
          "$bin" --seed "$s" -q benchmark $what -i "$in" "${reps[@]}" --json \
            --imputed "$dir/magic-$what/magic_$v.csv" --imputed-scale counts \
            >"$dir/$what-magic-$v.json" 2>"$dir/$what-magic-$v.log" ||
            { fail "$d seed $s: scoring MAGIC $v on $what" "$dir/$what-magic-$v.log"; rm -f "$dir/$what-magic-$v.json"; }
        done
        [ "$keep" = 1 ] || rm -f "$dir/magic-$what"/magic_*.csv
      else
        fail "$d seed $s: MAGIC on $what" "$dir/magic-$what.log"
        rm -f "$dir/magic-$what.json"
      fi
    done
  done
done

# ---- tables ----
python3 - "$out" "$ours" "$magic" "${sets[*]}" "${seeds[*]}" <<'PY'
import json, os, sys
out, ours, magic, sets, seeds = sys.argv[1:]
ours, magic, sets, seeds = ours == "1", magic == "1", sets.split(), seeds.split()

def load(p):
    try:
        with open(p) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None

def mean(xs):
    return sum(xs) / len(xs) if xs else None

def fmt(x, p=3):
    return "-" if x is None else f"{x:.{p}f}"

def ms(xs, p=3):
    """mean ± spread (max − min) over seeds."""
    if not xs:
        return "-"
    return f"{fmt(mean(xs), p)} ± {fmt(max(xs) - min(xs), p)}" if len(xs) > 1 else fmt(xs[0], p)

def drop_score(j, key):
    """median L1 and cosine of one method in a `benchmark dropout --json` answer."""
    if not j:
        return None
    s = j[0].get(key)
    return None if s is None else (s["median_l1"], s.get("cosine"), s.get("n_masked"))

def mcv_score(j, key):
    if not j:
        return None
    s = j.get(key)
    return None if s is None else s["mse_log1p"]

methods = (["MAGIC sqrt", "MAGIC log"] if magic else []) + (["ours"] if ours else []) + ["zero / none", "gene-mean"]
summary = {}
versions = None
print()
print("dropout: 10 % of the non-zero counts hidden, scored on ln(1 + count); MCV: p = 0.5, "
      "MSE of ln(1 + x) over all entries; mean ± spread (max − min) over seeds")
for d in sets:
    fig = {m: {"l1": [], "cos": [], "mcv": [], "secs": [], "l1_seed": {}} for m in methods}
    walls, n_masked, shape = [], None, None
    for s in seeds:
        dd = os.path.join(out, d, f"seed-{s}")
        dw, mw = load(f"{dd}/dropout-write.json"), load(f"{dd}/mcv-write.json")
        dj = {v: load(f"{dd}/dropout-magic-{v}.json") for v in ("sqrt", "log")}
        mj = {v: load(f"{dd}/mcv-magic-{v}.json") for v in ("sqrt", "log")}
        rj = {w: load(f"{dd}/magic-{w}.json") for w in ("dropout", "mcv")}
        # baselines: from a MAGIC scoring call when there is one, else from the writing call
        db = next((j for j in dj.values() if j), None) if magic else None
        mb = next((j for j in mj.values() if j), None) if magic else None
        db, mb = db or dw, mb or mw
        cells = {}
        if magic:
            for v in ("sqrt", "log"):
                cells[f"MAGIC {v}"] = (drop_score(dj[v], "external"), mcv_score(mj[v], "external"))
        if ours:
            cells["ours"] = (drop_score(dw, "ours"), mcv_score(mw, "ours"))
        cells["zero / none"] = (drop_score(db, "zero"), mcv_score(mb, "none"))
        cells["gene-mean"] = (drop_score(db, "gene_mean"), mcv_score(mb, "gene_mean"))
        for m, (dr, mc) in cells.items():
            if dr is not None:
                fig[m]["l1"].append(dr[0])
                fig[m]["l1_seed"][s] = dr[0]
                if dr[1] is not None:
                    fig[m]["cos"].append(dr[1])
            if mc is not None:
                fig[m]["mcv"].append(mc)
        if db and n_masked is None:
            n_masked = db[0]["zero"].get("n_masked")
        if mb and shape is None:
            shape = mb.get("shape")
        if magic and all(rj.values()):
            versions = versions or rj["dropout"].get("versions")
            walls.append(sum(float(open(f"{dd}/magic-{w}-wall").read()) for w in ("dropout", "mcv")))
            for v in ("sqrt", "log"):
                fig[f"MAGIC {v}"]["secs"] += [rj[w]["variants"][v]["seconds_magic"] for w in ("dropout", "mcv")]
            if "cells" not in summary.setdefault(d, {}):
                summary[d]["cells"] = rj["dropout"]["n_cells"]
                summary[d]["genes"] = rj["dropout"]["n_genes"]
    if magic:
        best = {}
        for col, better in (("l1", min), ("cos", max), ("mcv", min)):
            cand = [(mean(fig[f"MAGIC {v}"][col]), v) for v in ("sqrt", "log") if fig[f"MAGIC {v}"][col]]
            best[col] = better(cand)[1] if cand else None
    summary.setdefault(d, {})
    if "cells" not in summary[d] and shape:
        summary[d]["cells"] = shape[0]
    summary[d].update({"fig": fig, "wall": mean(walls), "best": best if magic else None})
    print()
    size = (f"{summary[d]['cells']} cells × {summary[d]['genes']} genes" if "genes" in summary[d]
            else (f"MCV scored on {shape[0]} cells × {shape[1]} genes" if shape else ""))
    print(f"### {d} ({size}{'; ' if size else ''}{n_masked if n_masked is not None else '?'} hidden entries with seed {seeds[0]})")
    print()
    print("| method | dropout median L1 | median L1 per seed | dropout cosine | MCV MSE ln(1+x) | MAGIC s |")
    print("|---|---|---|---|---|---|")
    rows = list(methods)
    if magic:
        rows.insert(2, "MAGIC best")
    for m in rows:
        if m == "MAGIC best":
            b = best
            cell = lambda col, p: ("-" if b[col] is None else
                                   f"{(ms if col != 'cos' else lambda xs, p: fmt(mean(xs), p))(fig['MAGIC ' + b[col]][col], p)} ({b[col]})")
            per = "-" if b["l1"] is None else ", ".join(fmt(fig["MAGIC " + b["l1"]]["l1_seed"].get(s)) for s in seeds)
            print(f"| **MAGIC best** | {cell('l1', 3)} | {per} | {cell('cos', 3)} | {cell('mcv', 5)} | |")
            continue
        f = fig[m]
        per = ", ".join(fmt(f["l1_seed"].get(s)) for s in seeds)
        print(f"| {m} | {ms(f['l1'])} | {per} | {fmt(mean(f['cos']))} | {ms(f['mcv'], 5)} | "
              f"{fmt(mean(f['secs']), 1) if f['secs'] else ''} |")

print()
print("## summary")
print()
head = ["data set", "cells"]
cols = []
if magic:
    cols.append(("MAGIC best", None))
if ours:
    cols.append(("ours", "ours"))
cols += [("zero", "zero / none"), ("gene-mean", "gene-mean")]
hdr = (["data set", "cells"] + [f"median L1 {c}" for c, _ in cols]
       + [f"cosine {c}" for c, _ in cols if c != "zero"]
       + [f"MCV {c if c != 'zero' else 'none'}" for c, _ in cols]
       + (["MAGIC wall s per seed"] if magic else []))
print("| " + " | ".join(hdr) + " |")
print("|" + "---|" * len(hdr))
for d in sets:
    S = summary[d]
    fig, best = S["fig"], S["best"]
    def val(c, key, col, p):
        if key is None:
            v = best[col]
            return "-" if v is None else f"{fmt(mean(fig['MAGIC ' + v][col]), p)} ({v})"
        return fmt(mean(fig[key][col]), p)
    row = [d, str(S.get("cells", "-"))]
    row += [val(c, k, "l1", 3) for c, k in cols]
    row += [val(c, k, "cos", 3) for c, k in cols if c != "zero"]
    row += [val(c, k, "mcv", 5) for c, k in cols]
    if magic:
        row.append(fmt(S["wall"], 1))
    print("| " + " | ".join(row) + " |")
if versions:
    print()
    print("MAGIC: " + ", ".join(f"{k} {v}" for k, v in versions.items())
          + "; MAGIC() defaults (knn=5, decay=1, t=3, n_pca=100, solver='exact'), random_state = seed, n_jobs=1")
PY

if [ "$failed" -gt 0 ]; then
  echo "magic.sh: $failed step(s) failed" >&2
  exit 1
fi
