#!/usr/bin/env bash
# The .deb as a person gets it: built by scripts/bundle-linux.sh, installed with apt into a clean
# Debian 12 root made here (debootstrap: no Rust, no Node, no build tree), then used there: the
# `fathom` CLI runs a model on MLX from the installed runtime, and the installed app goes through a
# smoke run under Xvfb (tests/package/smoke.py). Where an AppImage was built (the release workflow),
# it then goes through the same smoke run in that root with the .deb purged. Needs root (chroot,
# mounts).
#
# FATHOM_DEB names a package built beforehand (else scripts/bundle-linux.sh builds one).
# Cached between runs (FATHOM_PACKAGE_CACHE, default ~/.cache/fathom/package): the debootstrapped
# root as a tarball and apt's downloaded packages. Screenshots go to $FATHOM_E2E_ARTIFACTS.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ "$(id -u)" -eq 0 ] || exec sudo -E bash "$0" "$@"
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$HOME/.cargo/bin:$PATH"
target_dir=${CARGO_TARGET_DIR:-$PWD/target}
cache=${FATHOM_PACKAGE_CACHE:-$HOME/.cache/fathom/package}
artifacts=${FATHOM_E2E_ARTIFACTS:-$PWD/tests/e2e/artifacts}
mirror=${FATHOM_DEBIAN_MIRROR:-http://deb.debian.org/debian}
mkdir -p "$cache/apt-archives/partial" "$artifacts"
say() { printf 'deb test: %s (%ss)\n' "$*" "$SECONDS"; }

bash scripts/setup.sh test
# The test's own helpers: the fake Hub and the tiny checkpoint (both already there in scripts/test.sh).
[ -x "$target_dir/debug/fakehub" ] || cargo build -p fathom-fakehub
[ -f .tools/fixtures/gpt-oss/f32/config.json ] || bash scripts/fixtures.sh

# FATHOM_DEB: a package already built (the release workflow tests the one it publishes); else build it.
if [ -n "${FATHOM_DEB:-}" ]; then
  deb=$FATHOM_DEB
else
  say "building the package"
  deb=$(bash scripts/bundle-linux.sh | tail -1)
fi
[ -f "$deb" ] || { echo "deb test: no package at '$deb'" >&2; exit 1; }
say "built $(basename "$deb") ($(du -h "$deb" | cut -f1))"
dpkg-deb --contents "$deb" | awk '{print $6}' | sed 's|^\./||' > "$artifacts/deb-contents.txt"
for f in usr/bin/fathom-app usr/bin/fathom usr/lib/fathom/mlx/lib/libmlx.so usr/share/applications/Fathom.desktop \
  usr/share/icons/hicolor/128x128/apps/fathom-app.png; do
  grep -qx "$f" "$artifacts/deb-contents.txt" || { echo "deb test: the package lacks $f" >&2; exit 1; }
done
dpkg-deb --field "$deb" Depends | grep -q libopenblas0-pthread || { echo "deb test: OpenBLAS is not a dependency" >&2; exit 1; }
# llama.cpp's OpenMP runtime is linked into the binaries (see fathom_llama::SPIN), not loaded.
if dpkg-deb --field "$deb" Depends | grep -q libgomp1; then echo "deb test: libgomp1 is a dependency" >&2; exit 1; fi

root=$(mktemp -d /var/tmp/fathom-debroot.XXXXXX)
mounts=(proc sys dev dev/pts var/cache/apt/archives)
hub_pid=
cleanup() {
  [ -n "$hub_pid" ] && kill "$hub_pid" 2>/dev/null || true
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do umount -l "$root/${mounts[i]}" 2>/dev/null || true; done
  rm -rf --one-file-system "$root"
  say "cleaned up"
}
trap cleanup EXIT

if [ -f "$cache/bookworm-minbase.tar" ]; then
  say "a clean Debian 12 root (cached)"
  tar -xf "$cache/bookworm-minbase.tar" -C "$root"
else
  say "a clean Debian 12 root (debootstrap)"
  debootstrap --variant=minbase bookworm "$root" "$mirror" > "$artifacts/debootstrap.log" 2>&1 ||
    { tail -20 "$artifacts/debootstrap.log" >&2; exit 1; }
  rm -rf "$root/var/cache/apt/archives/"*.deb
  tar -cf "$cache/bookworm-minbase.tar.tmp" -C "$root" . && mv "$cache/bookworm-minbase.tar.tmp" "$cache/bookworm-minbase.tar"
fi
# What a Debian 12 user has: the release with its updates and security fixes.
cat > "$root/etc/apt/sources.list" <<SOURCES
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb ${mirror%/debian}/debian-security bookworm-security main
SOURCES
cp /etc/resolv.conf "$root/etc/resolv.conf"
mount -t proc proc "$root/proc"
mount --rbind /sys "$root/sys"
mount --rbind /dev "$root/dev"
mount -t devpts devpts "$root/dev/pts" 2>/dev/null || true
mount --bind "$cache/apt-archives" "$root/var/cache/apt/archives"
in_root() { chroot "$root" env -i PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin HOME=/root LANG=C.UTF-8 "$@"; }

if in_root sh -c 'command -v cargo || command -v rustc || command -v node || command -v npm'; then
  echo "deb test: the clean root has a build toolchain" >&2; exit 1
fi

say "installing the package with apt (its dependencies from Debian)"
cp "$deb" "$root/tmp/fathom.deb"
in_root apt-get update -qq -o DPkg::Lock::Timeout=600
in_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends /tmp/fathom.deb > "$artifacts/deb-install.log" 2>&1 ||
  { tail -30 "$artifacts/deb-install.log" >&2; exit 1; }
in_root dpkg -s fathom | grep -q '^Status: install ok installed'
if in_root ldd /usr/bin/fathom-app /usr/bin/fathom /usr/lib/fathom/mlx/lib/libmlx.so | grep 'not found'; then
  echo "deb test: the installed binaries miss libraries" >&2; exit 1
fi
in_root fathom --version

say "the CLI runs a model on the installed MLX"
# The tiny random checkpoint the engine's parity tests use (scripts/fixtures.sh), without its
# reference outputs.
model_files() { find .tools/fixtures/gpt-oss/f32 -maxdepth 1 -type f ! -name 'reference*'; }
mkdir -p "$root/root/tiny"
model_files | xargs cp -t "$root/root/tiny/"
in_root fathom generate --model /root/tiny --tokens 1,2,3 --max-tokens 4 --json > "$artifacts/deb-generate.json"
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); assert len(r["tokens"]) == 4, r' "$artifacts/deb-generate.json" || { cat "$artifacts/deb-generate.json" >&2; exit 1; }

say "the installed app, under Xvfb"
in_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
  xvfb xauth dbus dbus-x11 at-spi2-core xdotool webkit2gtk-driver python3-selenium imagemagick fonts-dejavu-core procps \
  > "$artifacts/deb-test-tools.log" 2>&1 || { tail -30 "$artifacts/deb-test-tools.log" >&2; exit 1; }
# tauri-driver is the test's own tool (WebDriver for Tauri apps), not part of what users install.
cp "$(command -v tauri-driver)" "$root/usr/local/bin/tauri-driver"
cp tests/package/smoke.py "$root/tmp/smoke.py"
mkdir -p "$root/root/Notes"
printf '# Field notes\n\nThe zorbulon otter hides its pebbles under the kelp.\n' > "$root/root/Notes/planted.md"
# The memory check reads the default model's headers from the Hub: a fake one on loopback (the
# root shares this machine's network), serving the tiny checkpoint under the default repo's name.
served=$(mktemp -d)
mkdir -p "$served/foadmk/context-1-MLX-MXFP4"
model_files | xargs cp -t "$served/foadmk/context-1-MLX-MXFP4/"
exec 3< <("$target_dir/debug/fakehub" "$served")
hub_pid=$!
read -r hub_url <&3
rm -rf "$root/tmp/smoke-shots"
in_root env HF_ENDPOINT="$hub_url" SMOKE_FOLDER=/root/Notes SMOKE_WORD=zorbulon SMOKE_SHOTS=/tmp/smoke-shots \
  dbus-run-session -- xvfb-run -a -s "-screen 0 1400x900x24" python3 /tmp/smoke.py
for s in "$root"/tmp/smoke-shots/*.png; do cp "$s" "$artifacts/deb-smoke-$(basename "$s")"; done
say "the installed package passed"

# The AppImage, where this machine could build one (its tools come from GitHub: the release
# workflow builds it before this test; machines that reach only package registries cannot): it
# must start from a folder outside the build tree on a system without the .deb. No FUSE in a
# chroot, so it runs extracted (APPIMAGE_EXTRACT_AND_RUN), which is also what users without
# libfuse2 do.
appimage=
if [ -d "$target_dir/release/bundle/appimage" ]; then
  appimage=$(find "$target_dir/release/bundle/appimage" -maxdepth 1 -name "*.AppImage" | head -1)
fi
if [ -z "$appimage" ]; then
  say "no AppImage built here (the release workflow builds and checks it)"
  exit 0
fi
say "the AppImage, without the .deb"
in_root env DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq fathom > "$artifacts/deb-purge.log" 2>&1 ||
  { tail -30 "$artifacts/deb-purge.log" >&2; exit 1; }
if in_root sh -c 'command -v fathom-app || command -v fathom || test -e /usr/lib/fathom'; then
  echo "deb test: the .deb left files behind after purge" >&2; exit 1
fi
# A new user: nothing from the .deb's run.
rm -rf "$root/root/.local/share/fathom" "$root/root/.local/state/fathom" "$root/root/.config/fathom" "$root/root/.cache/fathom"
mkdir -p "$root/root/Downloads"
cp "$appimage" "$root/root/Downloads/Fathom.AppImage"
chmod +x "$root/root/Downloads/Fathom.AppImage"
rm -rf "$root/tmp/smoke-shots"
in_root env HF_ENDPOINT="$hub_url" APPIMAGE_EXTRACT_AND_RUN=1 SMOKE_APP=/root/Downloads/Fathom.AppImage \
  SMOKE_FOLDER=/root/Notes SMOKE_WORD=zorbulon SMOKE_SHOTS=/tmp/smoke-shots \
  dbus-run-session -- xvfb-run -a -s "-screen 0 1400x900x24" python3 /tmp/smoke.py
for s in "$root"/tmp/smoke-shots/*.png; do cp "$s" "$artifacts/appimage-smoke-$(basename "$s")"; done
say "the AppImage passed"
