/**
 * The subcommands. Each is loaded only when it runs, so `tsquashfs --help` does not pull in the
 * compressors (lzma-native is a native module) or the writer. A new command is one file exporting
 * `command` plus one line here.
 */
import type { CliCommand } from './context.js';

export interface CommandEntry {
  name: string;
  summary: string;
  load(): Promise<CliCommand>;
}

export const COMMANDS: readonly CommandEntry[] = [
  {
    name: 'mk',
    summary: 'create a squashfs image from host files (mksquashfs command line)',
    load: async () => (await import('./mk.js')).command,
  },
  {
    name: 'ls',
    summary: 'list the paths in an image (-l: like unsquashfs -lln)',
    load: async () => (await import('./ls.js')).command,
  },
  {
    name: 'cat',
    summary: 'write a file from an image to stdout',
    load: async () => (await import('./cat.js')).command,
  },
  {
    name: 'extract',
    summary: 'extract an image into a directory, safely',
    load: async () => (await import('./extract.js')).command,
  },
  {
    name: 'inspect',
    summary: 'show the superblock and a map of every byte of an image (--json)',
    load: async () => (await import('./inspect.js')).command,
  },
  {
    name: 'portable',
    summary: 'build a systemd portable-service image like nixpkgs portableService',
    load: async () => (await import('./portable.js')).command,
  },
  {
    name: 'closure',
    summary: 'print the closure of store paths, like nix-store -qR',
    load: async () => (await import('./closure.js')).command,
  },
  {
    name: 'verify',
    summary: 'check every byte of an image against the format rules (--json)',
    load: async () => (await import('./verify.js')).command,
  },
];

export function findCommand(name: string): CommandEntry | undefined {
  return COMMANDS.find((c) => c.name === name);
}
