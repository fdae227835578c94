# Sourced by the GPU scripts: the GPU image lacks pydantic & co., so the wheels
# carried in .whl/ (docs/benchmarks.md, Reproduce) go into /tmp/site, which
# goes on PYTHONPATH with the repository. PY picks the interpreter.
if ls .whl/*.whl >/dev/null 2>&1; then
  "${PY:-python3}" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \
    --upgrade --target /tmp/site .whl/*.whl
fi
export PYTHONPATH="/tmp/site:$(pwd)${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
