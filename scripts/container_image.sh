#!/usr/bin/env bash
# Build the CPU component image with podman on a machine with no container registry (CI, this project's dev
# machines): a Debian bookworm base image made with debootstrap from the Debian mirror apt already uses, then
# docker/Dockerfile's `cpu` target on top of it. Prints the image reference on stdout (last line).
#   scripts/container_image.sh [TAG]        TAG defaults to localhost/climbflow:<git sha>
# Idempotent: the base image and the dependency layer are reused; a source change rebuilds in seconds.
# Needs root (debootstrap, podman); installs podman/buildah/runc/debootstrap from Debian if missing.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BASE=localhost/climbflow-base:bookworm-py311
TAG="${1:-localhost/climbflow:$(git rev-parse --short=12 HEAD 2>/dev/null || echo dev)}"
say() { echo "container_image: $*" >&2; }

if ! command -v podman >/dev/null || ! command -v debootstrap >/dev/null || ! command -v runc >/dev/null; then
  say "installing podman, buildah, runc, debootstrap (Debian packages)"
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman buildah runc fuse-overlayfs debootstrap uidmap \
    slirp4netns >/dev/null
fi
# podman's defaults cannot be applied in this sandbox (no CAP_SYS_RESOURCE, hybrid cgroups): see
# ../shared/research/containers.md. The file is used by run, build and the API service alike.
export CONTAINERS_CONF="${CONTAINERS_CONF:-$ROOT/scripts/containers.conf}"

if ! podman image exists "$BASE"; then
  rootfs="$(mktemp -d /var/tmp/climb-rootfs.XXXXXX)"
  trap 'rm -rf "$rootfs"' EXIT
  mirror="$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)"
  mirror="${mirror:-http://deb.debian.org/debian}"
  say "debootstrap bookworm from $mirror (about a minute)"
  debootstrap --variant=minbase --include=python3,python3-venv,python3-pip,ca-certificates \
    bookworm "$rootfs" "$mirror" >/dev/null
  # the machine's own CA certificates (a TLS-inspecting egress proxy): pip in the build must trust them
  if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
    cp /usr/local/share/ca-certificates/*.crt "$rootfs/usr/local/share/ca-certificates/"
  fi
  chroot "$rootfs" update-ca-certificates >/dev/null
  chroot "$rootfs" python3 -m venv /opt/venv
  chroot "$rootfs" /opt/venv/bin/pip install -q --upgrade "pip>=24" setuptools wheel >/dev/null
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  tar -C "$rootfs" -c . | podman import \
    --change 'ENV PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' --change 'ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt' \
    - "$BASE" >/dev/null
  say "base image $BASE created"
fi

# the CPU torch wheel this machine carries (pip's find-links), so the image does not pull the CUDA build
links="${PIP_FIND_LINKS:-$(pip config get global.find-links 2>/dev/null || true)}"
mounts=()
build_args=(--build-arg "BASE_IMAGE=$BASE" --build-arg "IMAGE_REF=$TAG"
  --build-arg "GIT_COMMIT=$(git rev-parse HEAD 2>/dev/null || echo unknown)")
if [ -n "$links" ] && [ -d "$links" ]; then
  mounts=(-v "$links:$links:ro")
  build_args+=(--build-arg "PIP_FIND_LINKS=$links" --build-arg "TORCH_INDEX_URL=")
fi
say "building $TAG (docker/Dockerfile, target cpu)"
start=$SECONDS
log="$(mktemp /tmp/climb-image-build.XXXXXX.log)"
if ! podman build --pull=never --network host "${mounts[@]}" "${build_args[@]}" --target cpu \
  --label "org.opencontainers.image.revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)" \
  -t "$TAG" -f docker/Dockerfile . >"$log" 2>&1; then
  tail -n 60 "$log" >&2
  say "build failed (full log: $log)"
  exit 1
fi
rm -f "$log"
say "built $TAG in $((SECONDS - start)) s ($(podman image inspect "$TAG" --format '{{.Size}}' | numfmt --to=iec) )"
echo "$TAG"
