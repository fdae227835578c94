#!/usr/bin/env bash
# The GPU run of issue 8, as one command on a 2-GPU (or 4-GPU) host:
#   bash load/ddp_gpu.sh            the DDP tests over NCCL, scaling, halt
#   ROUND=2 bash load/ddp_gpu.sh    where a small model's DDP step goes
#                                   (load/ddp_profile.py), and scaling of a
#                                   wider CNN (more compute per step)
# Needs python3 with CUDA torch; pydantic and friends as wheels in .whl/
# (docs/benchmarks.md, Reproduce), installed here into /tmp/site. Results land
# in $OUT (default ./ddp-out).
set -euo pipefail
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
OUT="${OUT:-./ddp-out}"
mkdir -p "$OUT"
PY="${PYTHON:-python3}"
source load/gpu_wheels.sh
CNN="--device cuda --backend nccl --task synthetic-images --samples 65536"
if [ "${ROUND:-1}" = 2 ]; then
  "$PY" -m load.ddp_profile $CNN --width 64 --batch-size 256 > "$OUT/ddp_profile.txt" 2>&1 \
    || echo "ddp_profile: exit $?"
  "$PY" -m load ddp-scaling $CNN --width 256 --batch-size 512 --steps 200 \
    --halt-repeats 2 --json "$OUT/ddp_scaling_cnn256.json" 2>&1 | tee "$OUT/ddp_gpu2.log"
  exit 0
fi
{
  nvidia-smi --query-gpu=name,memory.total --format=csv || true
  "$PY" -c 'import torch; print("torch", torch.__version__, "gpus", torch.cuda.device_count())'
  # The CPU suite's DDP tests on two GPUs over NCCL (-c /dev/null: the image
  # lacks pytest-asyncio, whose ini keys would fail).
  ESPER_DDP_TEST_DEVICE=cuda timeout 200 "$PY" -m pytest -c /dev/null --rootdir . \
    -p no:cacheprovider -q tests/unit/distributed tests/gpu/test_ddp_nccl.py \
    || echo "DDP tests on CUDA: exit $?"
  # Weak scaling on 1, 2 (4 if present) GPUs, then halt latency on all of them.
  "$PY" -m load ddp-scaling $CNN --width 64 --batch-size 256 --steps 300 \
    --halt-repeats 3 --json "$OUT/ddp_scaling_cnn.json"
  "$PY" -m load ddp-scaling --device cuda --backend nccl --width 2048 --depth 4 \
    --batch-size 128 --steps 300 --halt-repeats 2 --json "$OUT/ddp_scaling_mlp.json"
} 2>&1 | tee "$OUT/ddp_gpu.log"
