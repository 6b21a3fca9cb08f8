// The /init of the lab VM (busybox sh, PID 1) and the console markers it prints. Pure text: its hash
// keys the cached initramfs, so changing it rebuilds the initramfs on the next run.
//
// What it does, and why:
// - insmods the few modules 9p needs (virtio_pci, 9pnet_virtio, 9p and deps) from the initramfs, in the
//   order listed in /boot-modules, because Debian builds all of them as modules;
// - mounts the unpacked module tree (9p tag `modules`) on /lib/modules, so busybox modprobe finds the
//   modules named on the kernel command line (`lab.modules=a,b`) and the kernel's own request_module()
//   calls (CONFIG_MODPROBE_PATH=/sbin/modprobe) also resolve: the scenario runs in a chroot made by a
//   child process, so PID 1's root — which usermode helpers inherit via init_fs — stays the initramfs;
// - builds a tmpfs root with the host's /usr and /etc read-only (tags `usr`, `etc`; sharing the host's
//   whole / broke the proc mounts), Debian's merged-/usr symlinks, the repo read-only at its host path
//   (tag `repo`) and the per-run directory read-write at /lab (tag `lab`), and runs /lab/scenario.sh there;
// - kills the scenario after `lab.timeout` seconds, so the VM powers off by itself even when the host
//   process that started QEMU died and can no longer enforce its own limit;
// - prints the markers below on the serial console and powers off. QEMU exits 0 whatever happened, so
//   the host reads the verdict from the marker only.

export const MARKER_INIT = '@@sdwan-lab init uptime='
export const MARKER_SCENARIO = '@@sdwan-lab scenario uptime='
export const MARKER_RESULT = '@@sdwan-lab result exit='
export const MARKER_ERROR = '@@sdwan-lab error '

/** Options of the 9p mounts: cache=loose because the shares do not change while the guest runs. */
export const NINE_P_OPTIONS = 'trans=virtio,version=9p2000.L,cache=loose,msize=512000'

export function initScript(): string {
  return `#!/bin/sh
export PATH=/sbin:/bin
fail() { echo "${MARKER_ERROR}$*@@"; echo "${MARKER_RESULT}125@@"; poweroff -f; sleep 5; }
mount -t proc proc /proc || fail "mount /proc"
mount -t sysfs sysfs /sys || fail "mount /sys"
mount -t devtmpfs devtmpfs /dev || fail "mount /dev"
read up _ < /proc/uptime
echo "${MARKER_INIT}$up@@"
for m in $(cat /boot-modules); do insmod "/boot/$m" || fail "insmod $m"; done
arg() { for kv in $(cat /proc/cmdline); do case "$kv" in "$1="*) echo "\${kv#*=}";; esac; done; }
share() { mkdir -p "$3" && mount -t 9p -o "${NINE_P_OPTIONS},$2" "$1" "$3" || fail "mount 9p $1 on $3"; }
share modules ro /lib/modules
# One modprobe for all: busybox re-reads modules.dep (over 9p) on every call.
modules=$(arg lab.modules | tr , ' ')
[ -z "$modules" ] || modprobe -a $modules || fail "modprobe -a $modules"
R=/newroot
mkdir -p $R && mount -t tmpfs -o mode=755 tmpfs $R || fail "mount tmpfs root"
share usr ro $R/usr
share etc ro $R/etc
repo=$(arg lab.repo)
share repo ro "$R$repo"
share lab rw $R/lab
for d in bin sbin lib lib64; do ln -s usr/$d $R/$d; done
mkdir -p $R/proc $R/sys $R/dev $R/run $R/root $R/var/tmp $R/tmp && chmod 1777 $R/tmp $R/var/tmp
mount -t proc proc $R/proc && mount -t sysfs sysfs $R/sys && mount -t devtmpfs devtmpfs $R/dev || fail "mount kernel fs in root"
mkdir -p $R/dev/pts $R/dev/shm && mount -t devpts devpts $R/dev/pts && mount -t tmpfs tmpfs $R/dev/shm
ip link set lo up
read up _ < /proc/uptime
echo "${MARKER_SCENARIO}$up@@"
limit=$(arg lab.timeout)
HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LAB_REPO="$repo" \\
  timeout -s KILL "\${limit:-3600}" chroot $R /bin/sh -c 'cd "$LAB_REPO" && exec /bin/sh /lab/scenario.sh' \\
  </dev/console >/dev/console 2>&1
status=$?
[ $status -ne 137 ] || echo "${MARKER_ERROR}scenario killed (SIGKILL): guest limit of \${limit:-3600} s reached, or out of memory@@"
read up _ < /proc/uptime
echo "${MARKER_RESULT}$status uptime=$up@@"
poweroff -f
sleep 5
`
}
