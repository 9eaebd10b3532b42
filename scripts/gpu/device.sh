#!/usr/bin/env bash
# bash scripts/gpu/device.sh stage
# bash scripts/gpu/device.sh run [TASK …]
#
# Runs on the GPU machine, in the root of the working tree copy the device tool sends (see README.md).
#   stage  copies the .carry/payload.part-* this call carried to $STAGE (outside the tree copy, so nothing the tool
#          does to carried paths can drop them while the machine stays warm between calls).
#   run    stages too, then, once every part is there: checks the payload's sha256, unpacks node, dpkg -x's the Vulkan
#          loaders into $DEB_ROOT and runs ldconfig, unpacks the native packages into ./node_modules and the bundles into \$CARRY/js, and runs each
#          TASK (default: parity convert bench) with node on PATH. Logs and results go to $OUT.
#
# Tasks:
#   parity   scripts/parity.ts (npm run parity) on both committed fixtures with --provider webgpu
#   convert  the `2b` preset, random weights seed 0, as fp32 and fp16 bundles under .cache/gpu (the fp16 one from the
#            fp32 one's checkpoint, so the random weights are drawn once)
#   bench    scripts/gpu/bench.ts on those bundles, WebGPU against CPU ($BENCH_ARGS are appended)
#   rotary-ab  the 2b fp32 bundle (seed 0) converted twice by this tree's converter, with ORT's fused RotaryEmbedding
#            and with plain rotary ops (convert --rotary), under .cache/gpu/2b-fp32-rotary-{fused,plain}; then
#            scripts/gpu/bench.ts on both on WebGPU ($BENCH_ARGS appended, e.g. --providers webgpu,cpu)
#   placement  which nodes of each bundle there (the tiny fixture's, the 2b ones) WebGPU leaves to the CPU
#   probe    parity and a one-round bench on the tiny fixture only (a quick end-to-end check of the setup)
#   fp16     (after convert) fp16 2b bundles with other parts in float32 ($FP16_VARIANTS, precision.ts variant names;
#            variants with attention fail on WebGPU) under .cache/gpu/fp16, then a one-round bench of those and
#            2b-fp16, each on cpu and webgpu: does WebGPU give the CPU's greedy tokens?
#   precision  (after convert) scripts/gpu/precision.ts on the small preset's and the 2b checkpoint: per graph and
#            fp16 variant, how far each provider's outputs are from the fp32 graph on the CPU ($PRECISION_ARGS appended)
#   profile  scripts/gpu/profile.ts: ORT's profiler over the 2b fp32 and fp16 bundles on WebGPU (where the time goes)
#   embed-placement  scripts/gpu/embed-placement.ts on the 2b fp32 bundle (converted first if missing): decoding on
#            WebGPU with embed_tokens on WebGPU against on the CPU
#   kv-capacity  scripts/gpu/kv-capacity.ts on the 2b fp32 bundle (converted first if missing): decoding with exact
#            against capacity-padded KV, under ORT's `bucket` and `simple` storage buffer caches, and GPU memory after
#            prompts of distinct lengths ($KV_CAPACITY_ARGS appended)
#   gemv     scripts/gpu/gemv.ts on WebGPU: a decode step's 196 matrix-vector products (28 layers of the 2b text shape,
#            random fp32 weights, no bundle needed) as MatMul, Gemm and split-K in the graph (4, 8, 16), at M = 1 and
#            at a prefill's M = 800 → $OUT/gemv-DATE.md/.json ($GEMV_ARGS appended, e.g. --reps 5 --runs 10)
#   vs-hf-fp32, vs-hf-fp16  scripts/gpu/bench-vs-hf.ts measure: vlcache on WebGPU over the 2b fp32 / fp16 bundle
#            (converted first if missing), one row each under $STAGE/vs-hf (kept while the machine stays warm), and the
#            PNG its requests sent as $STAGE/vs-hf/image.png
#   vs-hf-torch  scripts/gpu/bench_hf.py: HF transformers eager fp32 and bf16 on the 2b checkpoint those bundles were
#            converted from, one row each under $STAGE/vs-hf; their requests start from the PNG the vlcache rows sent
#            ($STAGE/vs-hf/image.png, written by bench-vs-hf.mjs image when no vlcache row ran yet); a failed row fails the task
#   vs-hf-report  bench-vs-hf.ts report: the rows there → $OUT/gpu-vs-hf-DATE.json and .md ($VS_HF_ARGS are appended
#            to the measuring tasks, e.g. --n 5; VS_HF_PRESET: another preset than 2b, to try the tasks elsewhere;
#            VS_HF_PROVIDER: another provider choice than webgpu, e.g. auto (the row's notes say what its probe chose
#            and why) or cpu to try the tasks elsewhere; the server's settings, e.g. WEBGPU_BUFFER_CACHE=simple, apply)
#   coldpath  bench-vs-hf.ts measure twice on the fp32 bundle ($VS_HF_PRESET, default 2b; on $VS_HF_PROVIDER, default
#            webgpu): image features to prefill through host memory (--features-on-device off), then from device memory
#            (on, WebGPU's default); report → $OUT/gpu-coldpath-DATE.md/.json, with the cold request's stages per row and,
#            when vs-hf-torch ran before in this machine's life, HF eager fp32 for the ratio ($COLDPATH_ARGS replace the
#            default --n 5 --decode 0 --cancelled 0)
#   host     scripts/bench-host.ts on the $VS_HF_PRESET (default 2b) fp32 bundle with EXECUTION_PROVIDER=webgpu: the host
#            (CPU/JS) share of a cold request, stage by stage, and of a decode step → $OUT/host ($HOST_BENCH_ARGS
#            appended, e.g. --n 5 --steps 32)
#   cache-PROVIDER  scripts/bench-cache.ts (npm run bench:cache) with EXECUTION_PROVIDER=PROVIDER (webgpu, cpu) on the
#            $CACHE_BENCH_PRESET (default 2b) fp32 bundle, converted first if missing (fp16 is inaccurate on WebGPU),
#            over the in-process memory store (no redis-server there); results under $OUT/cache-PROVIDER
#            ($CACHE_BENCH_ARGS appended, e.g. --n 5)
#
# Environment: CARRY (the carried folder, default .carry), STAGE (default /var/tmp/vlcache-gpu), DEB_ROOT (default /; set another folder to try this
# elsewhere than on the GPU machine), OUT (default ./gpu-out), BENCH_ARGS, FP16_VARIANTS (default none,norms),
# PRECISION_ARGS, CACHE_BENCH_PRESET, CACHE_BENCH_ARGS, KV_CAPACITY_ARGS, HOST_BENCH_ARGS, GEMV_ARGS.
set -euo pipefail
cd "$(dirname "$0")/../.."

CARRY=${CARRY:-.carry}
STAGE=${STAGE:-/var/tmp/vlcache-gpu}
DEB_ROOT=${DEB_ROOT:-/}
OUT=${OUT:-$PWD/gpu-out}
mkdir -p "$STAGE/parts" "$OUT"

stage() {
  cp "$CARRY/payload.sha256" "$STAGE/parts/"
  for part in "$CARRY"/payload.part-*; do
    [[ -e $part ]] && cp "$part" "$STAGE/parts/" && echo "staged $(basename "$part") ($(stat -c %s "$part") bytes)"
  done
  ls "$STAGE/parts"
}

setup() {
  local unpacked=$STAGE/unpacked
  # A warm machine keeps what an earlier call unpacked; unpack again only for another payload.
  if ! cmp -s "$STAGE/parts/payload.sha256" "$unpacked/payload.sha256"; then
    (cd "$STAGE/parts" && cat payload.part-* > payload.tar && sha256sum -c payload.sha256) || {
      echo "device.sh: payload incomplete or corrupt: stage every part first (staged: $(ls "$STAGE/parts" | tr '\n' ' '))" >&2
      exit 1
    }
    rm -rf "$unpacked" && mkdir -p "$unpacked"
    tar -xf "$STAGE/parts/payload.tar" -C "$unpacked"
    xz -d "$unpacked/node.xz"
    tar -xJf "$unpacked/js.tar.xz" -C "$unpacked"
    chmod +x "$unpacked/node"
    cp "$STAGE/parts/payload.sha256" "$unpacked/"
  fi
  for deb in "$unpacked"/debs/*.deb; do dpkg -x "$deb" "$DEB_ROOT"; done
  [[ $DEB_ROOT == / ]] && ldconfig
  # The loader finds NVIDIA's Vulkan driver through this manifest on the GPU machines (device README).
  local icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
  if [[ -z ${VK_DRIVER_FILES:-} && -f $icd ]]; then export VK_DRIVER_FILES=$icd; fi
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || true
  echo "cores: $(nproc)"
  tar -xJf "$unpacked/node_modules.tar.xz"
  export PATH=$unpacked:$PATH
  # ESM resolves packages from the importing file's folder upwards (NODE_PATH does not apply), so the bundles must
  # sit inside the tree, above which ./node_modules is.
  JS=$CARRY/js
  mkdir -p "$CARRY" && rm -rf "$JS" && cp -r "$unpacked/js" "$JS"
  node --version
}

# convert_fp32 PRESET: the preset's fp32 bundle (random weights, seed 0) under .cache/gpu/PRESET-fp32 and its
# checkpoint under .cache/gpu/PRESET-checkpoint (fp16 bundles and precision.ts start from it), unless already there.
convert_fp32() {
  [[ -f .cache/gpu/$1-fp32/vlcache.json && -f .cache/gpu/$1-checkpoint/model.safetensors ]] ||
    node "$JS/convert.mjs" --random "$1" --seed 0 --out ".cache/gpu/$1-fp32" --checkpoint-out ".cache/gpu/$1-checkpoint" --force
}

run_task() {
  local bundles=.cache/gpu
  case $1 in
    parity)
      node "$JS/parity.mjs" --provider webgpu --json "$OUT/parity-webgpu.json" \
        --fixture fixtures/parity/tiny-deepstack-tied --fixture fixtures/parity/tiny-plain-untied ;;
    convert)
      convert_fp32 2b
      [[ -f $bundles/2b-fp16/vlcache.json ]] ||
        node "$JS/convert.mjs" --from "$bundles/2b-checkpoint" --out "$bundles/2b-fp16" --dtype fp16 --force ;;
    bench)
      # shellcheck disable=SC2086 # BENCH_ARGS is a list of options
      node "$JS/bench.mjs" --bundle "$bundles/2b-fp32" --bundle "$bundles/2b-fp16" --providers webgpu,cpu \
        --out "$OUT/gpu-webgpu-$(date -u +%F)" ${BENCH_ARGS:-} ;;
    rotary-ab)
      # Both converted here, whatever .cache/gpu/2b-fp32 holds: a warm machine may keep one from an older converter.
      local from=(--from "$bundles/2b-checkpoint")
      [[ -f $bundles/2b-checkpoint/model.safetensors ]] ||
        from=(--random 2b --seed 0 --checkpoint-out "$bundles/2b-checkpoint")
      for rotary in fused plain; do
        node "$JS/convert.mjs" "${from[@]}" --out "$bundles/2b-fp32-rotary-$rotary" --rotary "$rotary" --force
        from=(--from "$bundles/2b-checkpoint")
      done
      # shellcheck disable=SC2086 # BENCH_ARGS is a list of options
      node "$JS/bench.mjs" --bundle "$bundles/2b-fp32-rotary-fused" --bundle "$bundles/2b-fp32-rotary-plain" \
        --providers webgpu --out "$OUT/gpu-rotary-ab-$(date -u +%F)" ${BENCH_ARGS:-} ;;
    placement)
      for dir in .cache/parity/tiny-deepstack-tied-*/ "$bundles"/2b-fp32 "$bundles"/2b-fp16; do
        [[ -f $dir/vlcache.json ]] || continue
        echo "--- $dir"
        node "$JS/placement.mjs" --bundle "$dir" --provider webgpu 2>&1 |
          grep -E '^=== |VerifyEachNodeIsAssignedToAnEp|Some nodes were not assigned|\[[EW]:' || true
      done ;;
    probe)
      node "$JS/parity.mjs" --provider webgpu --fixture fixtures/parity/tiny-deepstack-tied
      # shellcheck disable=SC2086
      node "$JS/bench.mjs" --bundle "$(ls -d .cache/parity/tiny-deepstack-tied-*/ | head -1)" --providers webgpu,cpu \
        --prompt 780 --reps 1 --decode 4 --out "$OUT/probe" ${BENCH_ARGS:-} ;;
    fp16)
      local variants=${FP16_VARIANTS:-none,norms}
      node "$JS/precision.mjs" --checkpoint "$bundles/2b-checkpoint" --variants "" --bundles "$bundles/fp16" --bundle-variants "$variants"
      local args=(--bundle "$bundles/2b-fp16")
      for v in ${variants//,/ }; do args+=(--bundle "$bundles/fp16/$v"); done
      node "$JS/bench.mjs" "${args[@]}" --providers cpu,webgpu --reps 1 --out "$OUT/fp16-crosscheck" ;;
    precision)
      convert_fp32 small
      # shellcheck disable=SC2086 # PRECISION_ARGS is a list of options
      node "$JS/precision.mjs" --checkpoint "$bundles/small-checkpoint" --checkpoint "$bundles/2b-checkpoint" \
        --out "$OUT/precision" ${PRECISION_ARGS:-} ;;
    profile)
      for dtype in fp32 fp16; do
        [[ -f $bundles/2b-$dtype/vlcache.json ]] || continue
        node "$JS/profile.mjs" --bundle "$bundles/2b-$dtype" --provider webgpu --out "$OUT/profile-2b-$dtype"
      done ;;
    embed-placement)
      convert_fp32 2b
      node "$JS/embed-placement.mjs" --bundle "$bundles/2b-fp32" --out "$OUT/embed-placement-$(date -u +%F)" ;;
    kv-capacity)
      convert_fp32 2b
      # shellcheck disable=SC2086 # KV_CAPACITY_ARGS is a list of options
      node "$JS/kv-capacity.mjs" --bundle "$bundles/2b-fp32" --out "$OUT/kv-capacity-$(date -u +%F)" ${KV_CAPACITY_ARGS:-} ;;
    gemv)
      # shellcheck disable=SC2086 # GEMV_ARGS is a list of options
      node "$JS/gemv.mjs" --provider webgpu --out "$OUT/gemv-$(date -u +%F)" ${GEMV_ARGS:-} ;;
    vs-hf-fp32 | vs-hf-fp16)
      local dtype=${1#vs-hf-} preset=${VS_HF_PRESET:-2b}
      convert_fp32 "$preset"
      [[ -f $bundles/$preset-$dtype/vlcache.json ]] ||
        node "$JS/convert.mjs" --from "$bundles/$preset-checkpoint" --out "$bundles/$preset-$dtype" --dtype "$dtype" --force
      mkdir -p "$STAGE/vs-hf"
      # shellcheck disable=SC2086 # VS_HF_ARGS is a list of options
      EXECUTION_PROVIDER=${VS_HF_PROVIDER:-webgpu} node "$JS/bench-vs-hf.mjs" measure --bundle "$bundles/$preset-$dtype" --system "vlcache-webgpu-$dtype" \
        --out "$STAGE/vs-hf/vlcache-webgpu-$dtype.json" --image-out "$STAGE/vs-hf/image.png" ${VS_HF_ARGS:-}
      cp "$STAGE/vs-hf/vlcache-webgpu-$dtype.json" "$OUT/" ;;
    vs-hf-torch)
      local preset=${VS_HF_PRESET:-2b} image=$STAGE/vs-hf/image.png rc=0
      convert_fp32 "$preset"
      mkdir -p "$STAGE/vs-hf"
      # The PNG the vlcache rows sent (vs-hf-fp32/fp16 write it); the same bytes from the same code when none ran yet.
      [[ -f $image ]] || node "$JS/bench-vs-hf.mjs" image --out "$image"
      for dtype in fp32 bf16; do
        # shellcheck disable=SC2086
        python3 scripts/gpu/bench_hf.py --checkpoint "$bundles/$preset-checkpoint" --dtype "$dtype" --image "$image" \
          --out "$STAGE/vs-hf/hf-eager-$dtype.json" ${VS_HF_ARGS:-} || rc=1
        cp "$STAGE/vs-hf/hf-eager-$dtype.json" "$OUT/"
      done
      return $rc ;;
    vs-hf-report)
      local rows=()
      for system in vlcache-webgpu-fp32 vlcache-webgpu-fp16 hf-eager-fp32 hf-eager-bf16; do
        [[ -f $STAGE/vs-hf/$system.json ]] && rows+=(--rows "$STAGE/vs-hf/$system.json")
      done
      GPU_NAME="$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)" \
        node "$JS/bench-vs-hf.mjs" report "${rows[@]}" --out "$OUT/gpu-vs-hf-$(date -u +%F)" ;;
    coldpath)
      local preset=${VS_HF_PRESET:-2b} rows=()
      convert_fp32 "$preset"
      mkdir -p "$STAGE/coldpath"
      for features in off on; do
        # shellcheck disable=SC2086 # COLDPATH_ARGS is a list of options
        EXECUTION_PROVIDER=${VS_HF_PROVIDER:-webgpu} node "$JS/bench-vs-hf.mjs" measure --bundle "$bundles/$preset-fp32" \
          --system vlcache-webgpu-fp32 --features-on-device "$features" --out "$STAGE/coldpath/features-$features.json" \
          ${COLDPATH_ARGS:---n 5 --decode 0 --cancelled 0}
        rows+=(--rows "$STAGE/coldpath/features-$features.json")
      done
      [[ -f $STAGE/vs-hf/hf-eager-fp32.json ]] && rows+=(--rows "$STAGE/vs-hf/hf-eager-fp32.json")
      GPU_NAME="$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)" \
        node "$JS/bench-vs-hf.mjs" report "${rows[@]}" --out "$OUT/gpu-coldpath-$(date -u +%F)" ;;
    host)
      local preset=${VS_HF_PRESET:-2b}
      convert_fp32 "$preset"
      # shellcheck disable=SC2086 # HOST_BENCH_ARGS is a list of options
      EXECUTION_PROVIDER=webgpu node "$JS/bench-host.mjs" --bundle "$bundles/$preset-fp32" --out "$OUT/host" \
        ${HOST_BENCH_ARGS:-} ;;
    cache-*)
      local preset=${CACHE_BENCH_PRESET:-2b}
      convert_fp32 "$preset"
      # The store may hold some twenty tenants' L1 records (≈ 25 MB each at 2b, fp32), more than the default 512 MiB.
      # shellcheck disable=SC2086 # CACHE_BENCH_ARGS is a list of options
      EXECUTION_PROVIDER=${1#cache-} EMBEDDED_STORE=memory CACHE_STORE_MAX_BYTES=$(( 8 << 30 )) \
        node "$JS/bench-cache.mjs" --bundle "$bundles/$preset-fp32" --out "$OUT/$1" ${CACHE_BENCH_ARGS:-} ;;
    *) echo "device.sh: unknown task $1" >&2; exit 2 ;;
  esac
}

case ${1:-} in
  stage) stage ;;
  run)
    shift
    tasks=("$@")
    (( ${#tasks[@]} )) || tasks=(parity convert bench)
    stage
    setup
    failed=0
    for t in "${tasks[@]}"; do
      echo "=== $t $(date -u +%T)"
      start=$SECONDS
      # A failing task (a parity FAIL, say) is reported and the next one still runs.
      if run_task "$t" 2>&1 | tee "$OUT/$t.log"; then rc=0; else rc=$?; failed=1; fi
      echo "=== $t exit $rc after $(( SECONDS - start )) s"
    done
    exit $failed ;;
  *) echo "usage: device.sh stage | run [parity|convert|bench|rotary-ab|placement|probe|fp16|precision|profile|embed-placement|kv-capacity|gemv|vs-hf-fp32|vs-hf-fp16|vs-hf-torch|vs-hf-report|coldpath|host|cache-webgpu|cache-cpu …]" >&2; exit 2 ;;
esac
