/**
 * What nixpkgs' `portableService` puts around the store in a portable-service image, with the
 * metadata each entry ends up with. Its builder makes the scaffold as a derivation output:
 *
 *   mkdir -p $out/etc/systemd/system $out/proc $out/sys $out/dev $out/run \
 *            $out/tmp $out/var/tmp $out/var/lib $out/var/cache $out/var/log
 *   touch $out/etc/resolv.conf $out/etc/machine-id
 *   cp <os-release> $out/etc/os-release
 *   cp <unit> $out/etc/systemd/system/<unit name>       (for each unit)
 *   mkdir -p $(dirname $out/<symlink>); ln -s <object> $out/<symlink>   (for each symlink)
 *
 * That output is a store path, so Nix canonicalises it before mksquashfs reads it: every
 * non-symlink gets 0444, or 0555 when the owner could execute it (directories included), and
 * mtime 1. The image is then packed from `nix` (a directory of the build's own, `mkdir -p
 * nix/store` under umask 022, so 0755) and `<scaffold>/*`, with -all-root, -root-mode 755 and
 * SOURCE_DATE_EPOCH=0, which clamps every mtime to 0.
 */

/** Where store paths live inside the image, whatever the host's store directory. */
export const IMAGE_STORE_DIR = '/nix/store';

/** A canonicalised store directory, or a file the owner may execute. */
export const STORE_DIR_MODE = 0o555;
/** A canonicalised store file without the owner's execute bit. */
export const STORE_FILE_MODE = 0o444;
/** /nix and /nix/store: made in the build directory with umask 022. */
export const BUILD_DIR_MODE = 0o755;
/** -root-mode 755. */
export const ROOT_MODE = 0o755;
export const SYMLINK_MODE = 0o777;

/** The scaffold's directories, as `mkdir -p` creates them (parents implied). */
export const SCAFFOLD_DIRS: readonly string[] = [
  '/etc/systemd/system',
  '/proc',
  '/sys',
  '/dev',
  '/run',
  '/tmp',
  '/var/tmp',
  '/var/lib',
  '/var/cache',
  '/var/log',
];

/** Where units are copied. */
export const UNIT_DIR = '/etc/systemd/system';

export const OS_RELEASE_PATH = '/etc/os-release';

/** Empty files for the host's versions to be mounted over. */
export const EMPTY_FILES: readonly string[] = ['/etc/resolv.conf', '/etc/machine-id'];

/**
 * Directories that systemd mounts over when it runs a portable service (API file systems and
 * private temporary directories): anything put inside them would never be seen.
 */
export const MOUNTED_OVER_DIRS: readonly string[] = [
  '/proc',
  '/sys',
  '/dev',
  '/run',
  '/tmp',
  '/var/tmp',
];

/** The mode Nix's canonicalisation gives a non-symlink with these permission bits. */
export function canonicalStoreMode(mode: number): number {
  return mode & 0o100 ? STORE_DIR_MODE : STORE_FILE_MODE;
}
