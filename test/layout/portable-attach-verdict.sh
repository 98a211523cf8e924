#!/bin/sh
# The job of the container that test/layout/portable-attach.test.ts boots: attach a portable
# image with `portablectl attach --now`, check that its service ran from the image, detach it,
# and leave the evidence and a verdict in OUT for the test to read. The unit that runs this
# powers the container off when it ends, whatever the outcome.
#
# usage: portable-attach-verdict.sh IMAGE SERVICE MARKER OUT
set -u
image=$1
service=$2
marker=$3
out=$4
name=$(basename "$image" .raw)

fail() {
  echo "$*" >>"$out/failures"
}

# nspawn's /dev is a tmpfs holding only the loop nodes that existed on the host at boot; if
# LOOP_CTL_GET_FREE hands out a number made later (or removed and made again by a parallel
# test on the host), its node would be missing here. Nodes for numbers that do not exist yet
# are harmless.
[ -e /dev/loop-control ] || mknod /dev/loop-control c 10 237
i=0
while [ "$i" -lt 64 ]; do
  [ -e "/dev/loop$i" ] || mknod "/dev/loop$i" b 7 "$i"
  i=$((i + 1))
done

cat /etc/os-release >"$out/container-os-release"
# The image's store must be the only place the service can run from.
[ -e /nix ] && fail "the container itself has /nix"

portablectl attach --now "$image" >"$out/attach.log" 2>&1
echo $? >"$out/attach.rc"
portablectl list --no-pager --no-legend >"$out/list-attached" 2>&1
cat "/etc/systemd/system.attached/$service.d/20-portable.conf" >"$out/dropin" 2>&1
systemctl show --property=ActiveState,Result,ExecMainStatus "$service" >"$out/service-state" 2>&1

# The service's stdout reaches the journal through journald's stream socket, which may lag
# the unit's exit a little.
tries=0
while :; do
  journalctl --no-pager --output=cat --unit="$service" >"$out/journal" 2>&1
  grep -qx "$marker" "$out/journal" && break
  tries=$((tries + 1))
  [ "$tries" -ge 50 ] && break
  sleep 0.2
done

portablectl detach --now "$image" >"$out/detach.log" 2>&1
echo $? >"$out/detach.rc"
systemctl show --property=LoadState,ActiveState "$service" >"$out/after-detach" 2>&1
portablectl list --no-pager --no-legend >"$out/list-detached" 2>&1

[ "$(cat "$out/attach.rc")" = 0 ] || fail "portablectl attach --now exited $(cat "$out/attach.rc")"
grep -q "^$name raw .* running *\$" "$out/list-attached" || fail "portablectl list: $name not a running raw image"
grep -qx "RootImage=$image" "$out/dropin" || fail "the drop-in does not set RootImage=$image"
grep -qx "ActiveState=active" "$out/service-state" || fail "$service is not active"
grep -qx "ExecMainStatus=0" "$out/service-state" || fail "$service did not exit 0"
grep -qx "$marker" "$out/journal" || fail "the marker is not in $service's journal"
grep -qx "root-fs=squashfs" "$out/journal" || fail "$service's / was not the squashfs image"
# The image is PNAME_VERSION.raw and its os-release says PORTABLE_ID=PNAME.
grep -qx "PORTABLE_ID=${name%_*}" "$out/journal" ||
  fail "the journal shows no PORTABLE_ID: the service did not see the image's os-release"
grep -qx "ID=debian" "$out/journal" && fail "the service saw the container's os-release"
[ "$(cat "$out/detach.rc")" = 0 ] || fail "portablectl detach --now exited $(cat "$out/detach.rc")"
grep -qx "LoadState=not-found" "$out/after-detach" || fail "$service is still loaded after detach"
grep -q "^$name " "$out/list-detached" && fail "portablectl list still shows $name after detach"

# The whole boot's journal, for a human reading a failure.
journalctl --no-pager --boot >"$out/boot-journal" 2>&1

if [ -s "$out/failures" ]; then verdict=FAIL; else verdict=PASS; fi
# Written last and renamed into place: a verdict file is always complete.
echo "$verdict" >"$out/verdict.tmp"
mv "$out/verdict.tmp" "$out/verdict"
