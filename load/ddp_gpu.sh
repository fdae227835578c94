#!/usr/bin/env bash
# The GPU run of issue 8, as one command on a 2-GPU (or 4-GPU) host:
#   bash load/ddp_gpu.sh
# Needs python3 with CUDA torch; pydantic and friends from /tmp/site (the lead
# installs .whl/ there). Results land in $OUT (default ./ddp-out).
set -euo pipefail
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
export PYTHONPATH="/tmp/site:$(pwd)${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
OUT="${OUT:-./ddp-out}"
mkdir -p "$OUT"
PY="${PYTHON:-python3}"
{
  nvidia-smi --query-gpu=name,memory.total --format=csv || true
  "$PY" -c 'import torch; print("torch", torch.__version__, "gpus", torch.cuda.device_count())'
  # Weak scaling on 1, 2 (4 if present) GPUs, then halt latency on all of them.
  "$PY" -m load ddp-scaling --device cuda --backend nccl --task synthetic-images \
    --width 64 --batch-size 256 --samples 65536 --steps 300 --halt-repeats 3 \
    --json "$OUT/ddp_scaling_cnn.json"
  "$PY" -m load ddp-scaling --device cuda --backend nccl --width 2048 --depth 4 \
    --batch-size 128 --steps 300 --halt-repeats 2 --json "$OUT/ddp_scaling_mlp.json"
} 2>&1 | tee "$OUT/ddp_gpu.log"
