#!/usr/bin/env bash
# Build (and optionally push) the CPU and GPU images, tagged by git sha:
#   docker/build.sh [--push] [IMAGE]      IMAGE defaults to ghcr.io/climbflow/climbflow
# Tags: IMAGE:<sha> (CPU) and IMAGE:<sha>-gpu (GPU); a dirty tree gets a -dirty suffix.
set -euo pipefail
cd "$(dirname "$0")/.."
push=0
if [[ "${1:-}" == "--push" ]]; then push=1; shift; fi
image="${1:-ghcr.io/climbflow/climbflow}"
sha="$(git rev-parse --short=12 HEAD)"
if ! git diff --quiet HEAD --; then sha="${sha}-dirty"; fi
for target in cpu gpu; do
  tag="${image}:${sha}"
  [[ "$target" == gpu ]] && tag="${tag}-gpu"
  docker build -f docker/Dockerfile --target "$target" \
    --label "org.opencontainers.image.revision=$(git rev-parse HEAD)" -t "$tag" .
  [[ "$push" == 1 ]] && docker push "$tag"
  echo "$tag"
done
echo "set params.yaml cluster.image=${image}:${sha} cluster.gpu_image=${image}:${sha}-gpu, then: climb compile"
