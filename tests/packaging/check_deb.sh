#!/usr/bin/env bash
# package.deb: `cpack -G DEB` makes a package that names its dependencies, carries a
# hardened musterd.service with [Install], and installs and starts in a clean Debian 12
# root: a minbase bookworm made by debootstrap from Debian's mirror (cached in the build
# dir after the first run), the package installed with apt (which fetches what it
# depends on), its postinst making the `muster` user and /var/lib/muster, and that
# musterd serving /healthz. There is no systemd in a chroot: the unit is checked by its
# text, and started the way it would start it.
#
# Exit 77 (ctest: skipped, with the reason) when the clean root cannot be made: not
# root, no debootstrap, or the mirror unreachable. The package's own checks run first
# and fail the test, mirror or not.
#
# Usage: check_deb.sh BUILD_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/muster-deb-XXXXXX")
root="$work/root"
server_pid=""
cleanup() {
  if [[ -n "$server_pid" ]]; then kill -- "-$server_pid" 2>/dev/null || true; fi
  for m in proc dev; do
    if mountpoint -q "$root/$m" 2>/dev/null; then umount -l "$root/$m" || true; fi
  done
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIP: $* (the package's own checks passed; its install into a clean Debian 12 root was not tried)" >&2; exit 77; }

# ---- the package
(cd "$build" && cpack -G DEB -B "$work/pkg" >"$work/cpack.log" 2>&1) || { cat "$work/cpack.log" >&2; fail "cpack -G DEB"; }
deb=$(ls "$work"/pkg/muster_*.deb 2>/dev/null | head -1)
[[ -f "$deb" ]] || fail "cpack made no muster_*.deb: $(ls "$work/pkg")"
echo "made $(basename "$deb") ($(du -h "$deb" | cut -f1))"

info=$(dpkg-deb --info "$deb")
depends=$(dpkg-deb --field "$deb" Depends)
echo "Depends: $depends"
for dep in libsqlite3-0 libsodium23 libssl3 libutf8proc2 libncursesw6 libuv1 tzdata passwd init-system-helpers; do
  grep -qE "(^|[ ,])$dep([ (,]|$)" <<<"$depends" || fail "Depends does not name $dep"
done
grep -q "^ *Package: muster$" <<<"$info" || fail "the package is not called muster"
contents=$(dpkg-deb --contents "$deb")
for path in ./usr/bin/musterd ./usr/bin/muster ./usr/lib/systemd/system/musterd.service ./etc/default/musterd \
            ./usr/lib/muster/muster-xmpp-bridge ./usr/lib/muster/muster_broker_ids.so \
            ./usr/share/bash-completion/completions/muster ./usr/share/bash-completion/completions/musterd; do
  grep -q " $path\$" <<<"$contents" || fail "the package lacks $path"
done
dpkg-deb --control "$deb" "$work/control"
grep -qx "/etc/default/musterd" "$work/control/conffiles" || fail "/etc/default/musterd is not a conffile"
grep -q "useradd --system" "$work/control/postinst" || fail "postinst does not make the muster user"
dpkg-deb --fsys-tarfile "$deb" | tar -xO ./usr/lib/systemd/system/musterd.service >"$work/musterd.service"
for line in "User=muster" "ProtectSystem=strict" "NoNewPrivileges=yes" "ReadWritePaths=/var/lib/muster" \
            "ExecStart=/usr/bin/musterd serve --data /var/lib/muster \$MUSTERD_OPTIONS" "[Install]" "WantedBy=multi-user.target"; do
  grep -qxF "$line" "$work/musterd.service" || fail "musterd.service lacks: $line"
done

# systemd's own reading of the unit, against the packaged musterd (extracted here).
if command -v systemd-analyze >/dev/null; then
  dpkg-deb -x "$deb" "$work/files"
  sed "s|^ExecStart=/usr/bin/musterd|ExecStart=$work/files/usr/bin/musterd|" "$work/musterd.service" >"$work/musterd-check.service"
  systemd-analyze verify --man=no "$work/musterd-check.service" || fail "systemd-analyze verify musterd.service"
  systemd-analyze security --offline=yes "$work/musterd-check.service" 2>/dev/null | tail -1
fi

# ---- a clean Debian 12 root
[[ $(id -u) -eq 0 ]] || skip "making a chroot needs root"
command -v debootstrap >/dev/null || skip "debootstrap is not installed (scripts/setup installs it)"
mirror=${MUSTER_DEBIAN_MIRROR:-http://deb.debian.org/debian}
cache="$build/packaging/bookworm-minbase.tar"
mkdir -p "$root" "$build/packaging"
if [[ -f "$cache" ]]; then
  tar -C "$root" -xf "$cache"
else
  echo "making a minbase bookworm root from $mirror (at most 10 minutes; cached in $cache)"
  if ! timeout 600 debootstrap --variant=minbase bookworm "$root" "$mirror" >"$work/debootstrap.log" 2>&1; then
    tail -5 "$work/debootstrap.log" >&2
    skip "debootstrap from $mirror failed or took over 10 minutes"
  fi
  tar -C "$root" -cf "$cache.tmp" . && mv "$cache.tmp" "$cache"
fi
cp /etc/resolv.conf "$root/etc/resolv.conf"
mount -t proc proc "$root/proc"
in_root() { chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 "$@"; }
in_root dpkg-query -W muster >/dev/null 2>&1 && fail "the clean root already has muster"
if ! timeout 300 chroot "$root" apt-get update -qq >"$work/apt.log" 2>&1; then
  tail -5 "$work/apt.log" >&2
  skip "apt-get update in the clean root could not reach $mirror"
fi

# ---- install it as an admin would
cp "$deb" "$root/tmp/"
if ! timeout 600 chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
     "/tmp/$(basename "$deb")" >"$work/install.log" 2>&1; then
  cat "$work/install.log" >&2
  grep -qiE "Temporary failure|Could not connect|Unable to fetch|Failed to fetch" "$work/install.log" &&
    skip "apt-get could not fetch the package's dependencies from $mirror"
  fail "apt-get install of the package"
fi
grep -E "^(Setting up|muster:)" "$work/install.log" | sed 's/^/  /'
[[ $(in_root dpkg-query -W -f '${Status}' muster) == "install ok installed" ]] || fail "dpkg does not list muster as installed"
in_root getent passwd muster | grep -q ":/var/lib/muster:/usr/sbin/nologin$" || fail "no system user muster"
[[ $(in_root stat -c '%a %U %G' /var/lib/muster) == "700 muster muster" ]] || fail "/var/lib/muster is $(in_root stat -c '%a %U %G' /var/lib/muster)"
for f in log.db directory.db hotline.key; do
  [[ $(in_root stat -c '%a %U' "/var/lib/muster/$f") == "600 muster" ]] ||
    fail "/var/lib/muster/$f is $(in_root stat -c '%a %U' "/var/lib/muster/$f")"
done
[[ -L "$root/etc/systemd/system/multi-user.target.wants/musterd.service" ]] || fail "musterd.service is not enabled"

# ---- and start it as the unit does: as muster, over /var/lib/muster
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
setsid chroot "$root" runuser -u muster -- /usr/bin/musterd serve --data /var/lib/muster --listen "127.0.0.1:$port" \
  >"$work/serve.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do
  if curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; then break; fi
  sleep 0.1
done
curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null || { cat "$work/serve.log" >&2; fail "the installed musterd does not answer /healthz"; }
echo "ok: installed into a clean Debian 12 root; musterd serves /healthz as muster: $(head -1 "$work/serve.log")"
