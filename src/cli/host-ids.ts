/**
 * User and group names for -force-uid / -force-gid, looked up in /etc/passwd and /etc/group as
 * mksquashfs does through getpwnam/getgrnam. Only the local files are read: names that come from
 * NSS services (LDAP, systemd-userdb) are not found, and the user gets a clear error to use a number.
 */
import { readFileSync } from 'node:fs';

export interface IdLookup {
  uid(name: string): number | undefined;
  gid(name: string): number | undefined;
}

/** Reads the databases only when a name is actually asked for, so numeric ids never touch the disk. */
export function systemIdLookup(passwdPath = '/etc/passwd', groupPath = '/etc/group'): IdLookup {
  return {
    uid: (name) => idFromDatabase(passwdPath, name),
    gid: (name) => idFromDatabase(groupPath, name),
  };
}

/** Both files are `name:password:id:...` per line; the id is the third field. */
export function idFromDatabase(path: string, name: string): number | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  return idFromText(text, name);
}

export function idFromText(text: string, name: string): number | undefined {
  for (const line of text.split('\n')) {
    const fields = line.split(':');
    if (fields[0] !== name || fields.length < 3) continue;
    const id = fields[2]!;
    if (/^\d+$/.test(id)) return Number(id);
  }
  return undefined;
}
