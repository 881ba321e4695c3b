#!/usr/bin/env bash
# Builds the images the node runtimes need, without a registry: one OCI image-layout tarball whose
# only layer is a busybox-static root filesystem (plus images/udp-echo.c built static, the UDP
# server and client busybox lacks), holding two images over that layer:
#   docker.io/library/busybox:latest          the image pods name as busybox, busybox:latest, ...
#   orchestration.local/sandbox:1             the pod sandbox: its process sleeps, so the pod's
#                                             namespaces outlive its containers
# `ctr images import` takes the tarball (the io.containerd.image.name annotations name the images);
# the Docker-style manifest.json in it lets `docker load` take it too. Fixed tar options make the
# digests the same on every machine.
# Usage: scripts/build-images.sh [OUTPUT]   (default artifacts/images/busybox-oci.tar)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-artifacts/images/busybox-oci.tar}
busybox=${BUSYBOX:-/bin/busybox}
[ -x "$busybox" ] || { echo "build-images: no busybox-static at $busybox (PACKAGES=busybox-static scripts/install-deps.sh)" >&2; exit 1; }
cc=${CC:-gcc}
command -v "$cc" >/dev/null && [ -f /usr/lib/x86_64-linux-gnu/libc.a ] || { echo "build-images: no $cc with a static libc (PACKAGES=\"gcc libc6-dev\" scripts/install-deps.sh)" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/rootfs
mkdir -p "$root"/{bin,etc,tmp,root,var/www,proc,sys,dev,home}
chmod 1777 "$root/tmp"
cp "$busybox" "$root/bin/busybox"
for applet in $("$busybox" --list); do
  [ "$applet" = busybox ] || ln -s busybox "$root/bin/$applet"
done
"$cc" -static -Os -Wall -Wextra -Werror -o "$root/bin/udp-echo" images/udp-echo.c
strip "$root/bin/udp-echo"
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n' > "$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$root/etc/group"
printf 'hosts: files dns\n' > "$root/etc/nsswitch.conf"

blobs=$work/layout/blobs/sha256
mkdir -p "$blobs"
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$root" -cf "$work/layer.tar" .
layer=$(sha256sum "$work/layer.tar" | cut -d' ' -f1)
mv "$work/layer.tar" "$blobs/$layer"
layer_size=$(stat -c %s "$blobs/$layer")

blob() { # writes stdin as a blob, prints "digest size"
  local tmp=$work/blob digest
  cat > "$tmp"
  digest=$(sha256sum "$tmp" | cut -d' ' -f1)
  mv "$tmp" "$blobs/$digest"
  echo "$digest $(stat -c %s "$blobs/$digest")"
}

image() { # name cmd-json -> prints "manifest-digest manifest-size config-digest"
  local name=$1 cmd=$2 config manifest
  config=$(printf '{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":%s,"WorkingDir":"/"},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' "$cmd" "$layer" | blob)
  manifest=$(printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%s}]}' \
    "${config% *}" "${config#* }" "$layer" "$layer_size" | blob)
  echo "$manifest ${config% *}"
}

read -r busybox_manifest busybox_size busybox_config <<<"$(image docker.io/library/busybox:latest '["sh"]')"
read -r sandbox_manifest sandbox_size sandbox_config <<<"$(image orchestration.local/sandbox:1 '["sleep","2147483647"]')"
entry() { printf '{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"%s"}}' "$1" "$2" "$3" "$4"; }
printf '{"schemaVersion":2,"manifests":[%s,%s]}' \
  "$(entry "$busybox_manifest" "$busybox_size" docker.io/library/busybox:latest latest)" \
  "$(entry "$sandbox_manifest" "$sandbox_size" orchestration.local/sandbox:1 1)" > "$work/layout/index.json"
printf '{"imageLayoutVersion":"1.0.0"}' > "$work/layout/oci-layout"
printf '[{"Config":"blobs/sha256/%s","RepoTags":["busybox:latest"],"Layers":["blobs/sha256/%s"]},{"Config":"blobs/sha256/%s","RepoTags":["orchestration.local/sandbox:1"],"Layers":["blobs/sha256/%s"]}]' \
  "$busybox_config" "$layer" "$sandbox_config" "$layer" > "$work/layout/manifest.json"

mkdir -p "$(dirname "$out")"
find "$work/layout" -exec touch -h -d @0 {} +
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$work/layout" -cf "$out.tmp" .
mv "$out.tmp" "$out"
echo "build-images: $out (busybox layer sha256:$layer)"
