/**
 * Short, plain reasons for the Node system errors users meet (a missing file, no permission,
 * a full disk), shared by every error type that names a path. Unknown errors keep their message.
 */
const REASONS: Record<string, string> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  ENOSPC: 'no space left on device',
  EISDIR: 'is a directory',
  ENOTDIR: 'not a directory',
};

export function systemErrorReason(err: unknown): string {
  const e = err as NodeJS.ErrnoException | undefined;
  return (e?.code !== undefined ? REASONS[e.code] : undefined) ?? e?.message ?? String(err);
}
