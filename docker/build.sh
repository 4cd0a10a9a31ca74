#!/usr/bin/env bash
# Build (and optionally push) the CPU and GPU images.
#   docker/build.sh [--push] [--print-tags] [IMAGE]     IMAGE defaults to ghcr.io/climbflow/climbflow
# The tag has ONE source: the project version (`version` in pyproject.toml). Tags: IMAGE:<version> (CPU) and
# IMAGE:<version>-gpu (GPU), the references params.yaml (cluster.image / cluster.gpu_image), ClusterConfig's
# defaults and k8s/base/kustomization.yaml (`images:`) use; tests/k8s checks they agree with --print-tags.
# Each image also gets an immutable alias IMAGE:<version>-<git sha>[-gpu] (with -dirty for a dirty tree).
# Release a new image: bump the version in pyproject.toml and in those three files (the test names any it misses).
#   --print-tags   print the two tags (CPU, then GPU) and exit: no container engine needed
#   CONTAINER_ENGINE=podman docker/build.sh ...   (default: docker)
set -euo pipefail
cd "$(dirname "$0")/.."
push=0 print=0 image=ghcr.io/climbflow/climbflow
while [[ $# -gt 0 ]]; do
  case "$1" in
    --push) push=1 ;;
    --print-tags) print=1 ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    -*) echo "build.sh: unknown option $1" >&2; exit 2 ;;
    *) image="$1" ;;
  esac
  shift
done
version="$(sed -n 's/^version[[:space:]]*=[[:space:]]*"\([^"]*\)".*/\1/p' pyproject.toml | head -n 1)"
if [[ ! "$version" =~ ^[0-9A-Za-z][0-9A-Za-z._-]*$ ]]; then
  echo "build.sh: no usable version in pyproject.toml (got '${version}')" >&2
  exit 1
fi
if [[ "$print" == 1 ]]; then
  echo "${image}:${version}"
  echo "${image}:${version}-gpu"
  exit 0
fi
engine="${CONTAINER_ENGINE:-docker}"
commit="$(git rev-parse HEAD)"
sha="$(git rev-parse --short=12 HEAD)"
if ! git diff --quiet HEAD --; then
  sha="${sha}-dirty"
  echo "build.sh: WARNING: uncommitted changes; ${image}:${version} will not match any commit" >&2
fi
for target in cpu gpu; do
  suffix=""
  [[ "$target" == gpu ]] && suffix="-gpu"
  tag="${image}:${version}${suffix}"
  alias="${image}:${version}-${sha}${suffix}"
  "$engine" build -f docker/Dockerfile --target "$target" \
    --build-arg "GIT_COMMIT=${commit}" --build-arg "IMAGE_REF=${tag}" \
    --label "org.opencontainers.image.revision=${commit}" \
    --label "org.opencontainers.image.version=${version}" -t "$tag" -t "$alias" .
  if [[ "$push" == 1 ]]; then
    "$engine" push "$tag"
    "$engine" push "$alias"
  fi
  echo "$tag"
done
echo "params.yaml cluster.image=${image}:${version} cluster.gpu_image=${image}:${version}-gpu (the defaults when" \
  "IMAGE is ghcr.io/climbflow/climbflow); another registry: set both, run \`climb compile\`, and" \
  "\`kustomize edit set image ghcr.io/climbflow/climbflow=${image}:${version}\` in your overlay"
