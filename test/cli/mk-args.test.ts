import { describe, it, expect } from 'vitest';
import { SquashfsError } from '../../src/squashfs/errors.js';
import { mkInfoRequest, parseMkArgs, type MkCommand } from '../../src/cli/mk-args.js';
import type { IdLookup } from '../../src/cli/host-ids.js';
import { idFromText } from '../../src/cli/host-ids.js';

/** A fixed user/group database, so the tests never read the host's /etc/passwd. */
const ids: IdLookup = {
  uid: (name) => ({ alice: 1000, root: 0 })[name],
  gid: (name) => ({ staff: 50, root: 0 })[name],
};

function parse(args: string, env: NodeJS.ProcessEnv = {}): MkCommand {
  return parseMkArgs(['src', 'out.sqfs', ...words(args)], env, ids);
}

function words(args: string): string[] {
  return args.split(' ').filter((w) => w !== '');
}

/** The SquashfsError a parse throws; fails the test when it does not throw one. */
function parseError(argv: string[], env: NodeJS.ProcessEnv = {}): SquashfsError {
  try {
    parseMkArgs(argv, env, ids);
  } catch (err) {
    expect(err).toBeInstanceOf(SquashfsError);
    expect((err as SquashfsError).code).toBe('INVALID_ARGUMENT');
    return err as SquashfsError;
  }
  throw new Error(`expected parseMkArgs(${JSON.stringify(argv)}) to throw`);
}

function errorOf(args: string, env: NodeJS.ProcessEnv = {}): string {
  return parseError(['src', 'out.sqfs', ...words(args)], env).message;
}

describe('parseMkArgs: positionals and defaults', () => {
  it('writes every default out explicitly', () => {
    const cmd = parse('');
    expect(cmd.sources).toEqual(['src']);
    expect(cmd.image).toBe('out.sqfs');
    expect(cmd.write).toEqual({
      compression: { name: 'gzip', level: 9, windowBits: 15 },
      blockSize: 131072,
      fragments: 'small',
      uncompressedInodes: false,
      uncompressedData: false,
      uncompressedFragments: false,
      uncompressedXattrs: false,
      uncompressedIds: false,
      duplicates: true,
      sparse: true,
      xattrs: true,
      exports: true,
      mkfsTime: 0,
      durable: false,
    });
    expect(cmd.scan).toEqual({ keepAsDirectory: false, exclude: [], xattrs: true });
    expect(cmd).toMatchObject({
      quiet: false,
      progress: 'auto',
      exitOnError: false,
      noAppend: false,
      processors: undefined,
    });
  });

  it('takes every word before the first option as a source, the last as the image', () => {
    const cmd = parseMkArgs(['a', 'b', 'c', 'img', '-quiet'], {}, ids);
    expect(cmd.sources).toEqual(['a', 'b', 'c']);
    expect(cmd.image).toBe('img');
  });

  it('rejects a missing SOURCE or IMAGE with the usage', () => {
    expect(parseError([]).message).toMatch(/missing SOURCE and IMAGE.*usage: tsquashfs mk/);
    expect(parseError(['only']).message).toMatch(/missing SOURCE or IMAGE/);
    expect(parseError(['-comp', 'xz', 'src', 'img']).message).toMatch(/missing SOURCE/);
  });

  it('rejects a word after the options (SOURCE and IMAGE come first, as mksquashfs)', () => {
    expect(errorOf('-b 4K extra')).toMatch(/unexpected argument "extra".*before the options/);
  });
});

describe('parseMkArgs: compression', () => {
  it.each([
    ['-comp gzip', { name: 'gzip', level: 9, windowBits: 15 }],
    ['-comp xz', { name: 'xz', dictSize: 131072, bcj: [] }],
    ['-comp none', { name: 'none' }],
    ['-comp xz -comp xz', { name: 'xz', dictSize: 131072, bcj: [] }],
  ])('%s', (args, compression) => {
    expect(parse(args).write.compression).toEqual(compression);
  });

  it('rejects compressors mksquashfs has and tsquashfs not yet', () => {
    for (const name of ['lzo', 'lz4', 'zstd', 'lzma']) {
      expect(errorOf(`-comp ${name}`)).toBe(
        `compressor ${name} is not supported yet (supported: gzip, xz, none)`,
      );
    }
  });

  it('rejects unknown and conflicting compressors', () => {
    expect(errorOf('-comp foo')).toMatch(/unknown compressor "foo"/);
    expect(errorOf('-comp xz -comp gzip')).toMatch(
      /conflicting -comp options, previously xz, now gzip/,
    );
    expect(errorOf('-comp')).toMatch(/-comp missing value COMP/);
  });

  it.each([
    ['4096', 4096],
    ['4K', 4096],
    ['4k', 4096],
    ['128K', 131072],
    ['128k', 131072],
    ['65536', 65536],
    ['1M', 1048576],
    ['1m', 1048576],
    ['1024K', 1048576],
  ])('-b %s', (size, bytes) => {
    expect(parse(`-b ${size}`).write.blockSize).toBe(bytes);
  });

  it.each(['3000', '2048', '2M', '8M', '0', '100K'])('-b %s is out of range', (size) => {
    expect(errorOf(`-b ${size}`)).toMatch(/-b: block size .* not a power of two between 4K and 1M/);
  });

  it.each(['12x', '128KB', '0x1000', '-1', '1.5M', ''])('-b "%s" is not a size', (size) => {
    expect(parseError(['src', 'img', '-b', size]).message).toMatch(/-b: invalid block size/);
  });

  it('rejects -b without a value', () => {
    expect(errorOf('-b')).toMatch(/-b missing value SIZE/);
  });

  it('maps the gzip options', () => {
    expect(
      parse('-Xcompression-level 1 -Xwindow-size 8 -Xstrategy default,filtered').write.compression,
    ).toEqual({ name: 'gzip', level: 1, windowBits: 8, strategies: ['default', 'filtered'] });
  });

  it('maps -Xengine, and leaves the engine to the compressor without it', () => {
    expect(parse('-Xengine zlib').write.compression).toMatchObject({ engine: 'zlib' });
    expect(parse('-comp gzip -Xengine libdeflate').write.compression).toMatchObject({
      engine: 'libdeflate',
    });
    expect(parse('').write.compression).not.toHaveProperty('engine');
  });

  it('orders and merges gzip strategies as mksquashfs tries them', () => {
    expect(
      parse('-Xstrategy fixed,huffman_only -Xstrategy run_length_encoded,fixed').write.compression,
    ).toMatchObject({ strategies: ['huffman_only', 'run_length_encoded', 'fixed'] });
  });

  it.each([
    [
      '-Xcompression-level 0',
      /gzip: -Xcompression-level invalid value "0", it should be 1 <= n <= 9/,
    ],
    ['-Xcompression-level 10', /1 <= n <= 9/],
    ['-Xcompression-level abc', /1 <= n <= 9/],
    ['-Xwindow-size 7', /gzip: -Xwindow-size invalid value "7", it should be 8 <= n <= 15/],
    ['-Xwindow-size 16', /8 <= n <= 15/],
    ['-Xstrategy foo', /gzip: -Xstrategy: unrecognised strategy "foo" \(available: default,/],
    ['-Xengine pako', /gzip: -Xengine: unknown engine "pako" \(available: libdeflate, zlib\)/],
    ['-Xengine libdeflate -Xwindow-size 12', /only a 32 KiB window.*use -Xengine zlib/],
    ['-Xstrategy filtered -Xengine libdeflate', /default strategy; use -Xengine zlib/],
  ])('gzip %s is rejected', (args, message) => {
    expect(errorOf(args)).toMatch(message);
  });

  it('maps the xz options, -X before or after -comp', () => {
    expect(parse('-Xbcj arm,x86 -comp xz -Xdict-size 32K').write.compression).toEqual({
      name: 'xz',
      dictSize: 32768,
      bcj: ['x86', 'arm'],
    });
    expect(parse('-comp xz -Xbcj x86,powerpc,ia64,arm,armthumb,sparc').write.compression).toEqual({
      name: 'xz',
      dictSize: 131072,
      bcj: ['x86', 'powerpc', 'ia64', 'arm', 'armthumb', 'sparc'],
    });
  });

  it('rejects an unknown BCJ filter', () => {
    expect(errorOf('-comp xz -Xbcj x86,mips')).toMatch(/xz: -Xbcj: unrecognised filter "mips"/);
  });

  it.each([
    ['8192', 131072, 8192],
    ['8K', 131072, 8192],
    ['8k', 131072, 8192],
    ['1M', 1048576, 1048576],
    ['1m', 1048576, 1048576],
    ['100%', 131072, 131072],
    ['50%', 131072, 65536],
    ['75%', 131072, 98304],
    ['37.5%', 131072, 49152],
    ['25%', 131072, 32768],
    ['48K', 65536, 49152],
  ])('-Xdict-size %s with block %i is %i bytes', (size, block, bytes) => {
    const compression = parse(`-comp xz -b ${block} -Xdict-size ${size}`).write.compression;
    expect(compression).toEqual({ name: 'xz', dictSize: bytes, bcj: [] });
  });

  it('resolves a percentage against the final -b, wherever it is given', () => {
    expect(parse('-comp xz -Xdict-size 50% -b 1M').write.compression).toMatchObject({
      dictSize: 524288,
    });
  });

  it.each([
    ['5000', /xz: -Xdict-size should be 8192 bytes or larger, got 5000/],
    ['4K', /8192 bytes or larger/],
    ['5%', /8192 bytes or larger, got 6553/],
    ['100000', /xz: -Xdict-size 100000 is an unsupported value.*2\^n or 3\*2\^n/],
    ['40K', /unsupported value/],
    ['200K', /xz: -Xdict-size 204800 is larger than the block size 131072/],
    ['150%', /xz: -Xdict-size percentage should be 0 < dict-size <= 100/],
    ['0%', /percentage should be 0 < dict-size <= 100/],
    ['abc', /xz: -Xdict-size invalid dict-size "abc"/],
    ['8KB', /invalid dict-size/],
    ['1.5K', /can't be fractional unless a percentage/],
  ])('-Xdict-size %s is rejected', (size, message) => {
    expect(errorOf(`-comp xz -Xdict-size ${size}`)).toMatch(message);
  });

  it('rejects -X options of another compressor, as mksquashfs', () => {
    expect(errorOf('-Xdict-size 8K')).toBe(
      'unrecognised compressor option -Xdict-size for compressor gzip (did you forget to specify ' +
        '-comp?); gzip supports -Xcompression-level, -Xwindow-size, -Xstrategy, -Xengine',
    );
    expect(errorOf('-comp gzip -Xbcj x86')).toBe(
      'unrecognised compressor option -Xbcj for compressor gzip; ' +
        'gzip supports -Xcompression-level, -Xwindow-size, -Xstrategy, -Xengine',
    );
    expect(errorOf('-comp xz -Xcompression-level 3')).toBe(
      'unrecognised compressor option -Xcompression-level for compressor xz; ' +
        'xz supports -Xbcj, -Xdict-size',
    );
    expect(errorOf('-comp none -Xwindow-size 9')).toMatch(
      /for compressor none; none takes no options/,
    );
    expect(errorOf('-Xhc')).toMatch(/unrecognised compressor option -Xhc for compressor gzip/);
    expect(errorOf('-comp xz -Xalgorithm lzo1x_1')).toMatch(/-Xalgorithm for compressor xz/);
  });

  it('rejects unknown -X options', () => {
    expect(errorOf('-Xfoo')).toMatch(/unrecognised compressor option -Xfoo/);
  });

  it('rejects a -X option without its value', () => {
    expect(errorOf('-comp xz -Xdict-size')).toMatch(/-Xdict-size missing value/);
  });

  it.each([
    ['-noI', { uncompressedInodes: true, uncompressedIds: false }],
    ['-noInodeCompression', { uncompressedInodes: true, uncompressedIds: false }],
    ['-noId', { uncompressedIds: true, uncompressedInodes: false }],
    ['-noIdTableCompression', { uncompressedIds: true }],
    ['-noD', { uncompressedData: true }],
    ['-noDataCompression', { uncompressedData: true }],
    ['-noF', { uncompressedFragments: true }],
    ['-noFragmentCompression', { uncompressedFragments: true }],
    ['-noX', { uncompressedXattrs: true }],
    ['-noXattrCompression', { uncompressedXattrs: true }],
  ])('%s', (args, expected) => {
    expect(parse(args).write).toMatchObject(expected);
  });
});

describe('parseMkArgs: layout', () => {
  it.each([
    ['-no-fragments', 'never'],
    ['-always-use-fragments', 'always'],
    ['-tailends', 'always'],
    ['-tailends -no-tailends', 'small'],
    // As in mksquashfs, -no-fragments wins over -always-use-fragments in either order.
    ['-always-use-fragments -no-fragments', 'never'],
    ['-no-fragments -always-use-fragments', 'never'],
  ])('%s gives fragments %s', (args, fragments) => {
    expect(parse(args).write.fragments).toBe(fragments);
  });

  it.each([
    ['-no-duplicates', { duplicates: false }],
    ['-no-sparse', { sparse: false }],
    ['-no-exports', { exports: false }],
    ['-no-exports -exports', { exports: true }],
    ['-no-xattrs', { xattrs: false }],
    ['-no-xattrs -xattrs', { xattrs: true }],
  ])('%s', (args, expected) => {
    expect(parse(args).write).toMatchObject(expected);
  });

  it('-no-xattrs also tells the scanner not to read them', () => {
    expect(parse('-no-xattrs').scan.xattrs).toBe(false);
    expect(parse('-no-xattrs -xattrs').scan.xattrs).toBe(true);
  });
});

describe('parseMkArgs: ownership and times', () => {
  it('-all-root and -root-owned force uid and gid 0', () => {
    expect(parse('-all-root').write).toMatchObject({ forceUid: 0, forceGid: 0 });
    expect(parse('-root-owned').write).toMatchObject({ forceUid: 0, forceGid: 0 });
  });

  it('the last of -all-root / -force-uid wins', () => {
    expect(parse('-all-root -force-uid 7').write).toMatchObject({ forceUid: 7, forceGid: 0 });
    expect(parse('-force-uid 7 -all-root').write).toMatchObject({ forceUid: 0, forceGid: 0 });
  });

  it('-force-uid / -force-gid take numbers or names', () => {
    expect(parse('-force-uid 4294967295 -force-gid 12').write).toMatchObject({
      forceUid: 4294967295,
      forceGid: 12,
    });
    expect(parse('-force-uid alice -force-gid staff').write).toMatchObject({
      forceUid: 1000,
      forceGid: 50,
    });
  });

  it.each([
    ['-force-uid bob', /-force-uid: invalid uid or unknown user "bob"/],
    ['-force-gid wheel', /-force-gid: invalid gid or unknown group "wheel"/],
    ['-force-uid -1', /-force-uid: uid -1 out of range/],
    ['-force-gid 4294967296', /-force-gid: gid 4294967296 out of range/],
    ['-force-uid', /-force-uid missing value USER/],
  ])('%s is rejected', (args, message) => {
    expect(errorOf(args)).toMatch(message);
  });

  it('-root-mode, -root-uid, -root-gid, -root-time set the root directory', () => {
    expect(parse('-root-mode 1777 -root-uid 5 -root-gid 6 -root-time 7').write).toMatchObject({
      rootMode: 0o1777,
      rootUid: 5,
      rootGid: 6,
      rootTime: 7,
    });
    expect(parse('-root-mode 0755').write.rootMode).toBe(0o755);
    expect(parse('-root-mode 07777').write.rootMode).toBe(0o7777);
  });

  it.each([
    ['-root-mode 8', /-root-mode: invalid mode "8" \(an octal number <= 07777\)/],
    ['-root-mode 17777', /invalid mode/],
    ['-root-mode rwx', /invalid mode/],
    ['-root-uid alice', /-root-uid: invalid uid "alice" \(a number\)/],
    ['-root-gid -1', /-root-gid: gid -1 out of range/],
    ['-root-uid 4294967296', /out of range/],
    ['-root-time -1', /-root-time: invalid time value "-1"/],
  ])('%s is rejected', (args, message) => {
    expect(errorOf(args)).toMatch(message);
  });

  it('-all-time, -mkfs-time and its alias -fstime', () => {
    expect(parse('-all-time 100 -mkfs-time 200').write).toMatchObject({
      allTime: 100,
      mkfsTime: 200,
    });
    expect(parse('-fstime 4294967295').write.mkfsTime).toBe(4294967295);
    expect(parse('-mkfs-time 1 -fstime 2').write.mkfsTime).toBe(2);
    expect(parse('-all-time 0').write.allTime).toBe(0);
  });

  it.each(['abc', '4294967296', '-1', '2020-01-01', '1.5', '0x10', ' 5', ''])(
    'time "%s" is rejected',
    (time) => {
      expect(parseError(['src', 'img', '-all-time', time]).message).toMatch(
        /-all-time: invalid time value .*0 to 4294967295; date strings are not supported/,
      );
    },
  );

  it('SOURCE_DATE_EPOCH sets the image time and clamps mtimes', () => {
    const write = parse('', { SOURCE_DATE_EPOCH: '1700000000' }).write;
    expect(write).toMatchObject({ mkfsTime: 1700000000, clampTime: 1700000000 });
    expect(write.allTime).toBeUndefined();
  });

  it('an empty SOURCE_DATE_EPOCH is ignored, as mksquashfs', () => {
    const write = parse('', { SOURCE_DATE_EPOCH: '' }).write;
    expect(write.mkfsTime).toBe(0);
    expect(write.clampTime).toBeUndefined();
  });

  it('SOURCE_DATE_EPOCH may be combined with -root-time', () => {
    expect(parse('-root-time 5', { SOURCE_DATE_EPOCH: '9' }).write).toMatchObject({
      rootTime: 5,
      mkfsTime: 9,
      clampTime: 9,
    });
  });

  it.each(['-all-time 1', '-mkfs-time 1', '-fstime 1'])(
    'SOURCE_DATE_EPOCH with %s is an error, as mksquashfs',
    (args) => {
      expect(errorOf(args, { SOURCE_DATE_EPOCH: '1' })).toMatch(
        /^SOURCE_DATE_EPOCH and command line options can't be used at the same time to set timestamp\(s\)/,
      );
    },
  );

  it.each(['abc', '-1', '4294967296', '5 ', '0x10', '1.0'])(
    'SOURCE_DATE_EPOCH="%s" is rejected',
    (value) => {
      expect(errorOf('', { SOURCE_DATE_EPOCH: value })).toMatch(
        /SOURCE_DATE_EPOCH has an invalid time value/,
      );
    },
  );
});

describe('parseMkArgs: sources and exclusions', () => {
  it('-keep-as-directory', () => {
    expect(parse('-keep-as-directory').scan.keepAsDirectory).toBe(true);
  });

  it('-e takes every later argument, even ones that look like options', () => {
    const cmd = parse('-quiet -e a b/c -noappend -e');
    expect(cmd.scan.exclude).toEqual(['a', 'b/c', '-noappend', '-e']);
    expect(cmd.noAppend).toBe(false);
    expect(cmd.quiet).toBe(true);
  });

  it('-e needs at least one argument', () => {
    expect(errorOf('-quiet -e')).toMatch(/-e missing arguments/);
  });
});

describe('parseMkArgs: runtime options', () => {
  it('-noappend, -exit-on-error, -processors', () => {
    expect(parse('-noappend -exit-on-error -processors 4')).toMatchObject({
      noAppend: true,
      exitOnError: true,
      processors: 4,
    });
  });

  it('-durable asks the writer to sync the image before it returns', () => {
    expect(parse('-durable').write.durable).toBe(true);
  });

  it.each([
    ['-processors 0', /-processors should be 1 or larger/],
    ['-processors x', /-processors: invalid processor number "x"/],
  ])('%s is rejected', (args, message) => {
    expect(errorOf(args)).toMatch(message);
  });

  it.each([
    ['', 'auto'],
    ['-progress', 'always'],
    ['-no-progress', 'never'],
    ['-no-progress -progress', 'always'],
    ['-progress -no-progress', 'never'],
    ['-quiet', 'never'],
    ['-quiet -progress', 'never'],
  ])('"%s" gives progress %s', (args, progress) => {
    expect(parse(args).progress).toBe(progress);
  });

  it('accepts -reproducible and -no-recovery, which ask for what tsquashfs always does', () => {
    expect(parse('-reproducible -no-recovery').write).toEqual(parse('').write);
  });

  it.each(['-info', '-nopad', '-not-reproducible', '-sort', '-ef', '-wildcards', '-tar', '-o'])(
    '%s is not supported yet',
    (option) => {
      expect(errorOf(option)).toBe(`option ${option} is not supported yet`);
    },
  );

  it.each(['-foo', '--comp', '-B', '-noappendx'])('%s is unknown', (option) => {
    expect(errorOf(option)).toBe(`unknown option ${option} (see tsquashfs mk --help)`);
  });
});

describe('mkInfoRequest', () => {
  it.each([
    [['-help'], 'help'],
    [['-h'], 'help'],
    [['--help'], 'help'],
    [['src', 'img', '-Xhelp'], 'help'],
    [['-version'], 'version'],
    [['src', 'img', '-quiet', '--version'], 'version'],
    [['src', 'img', '-e', '-h'], undefined],
    [['src', 'img', '-quiet'], undefined],
  ])('%j -> %s', (argv, expected) => {
    expect(mkInfoRequest(argv)).toBe(expected);
  });
});

describe('idFromText', () => {
  const passwd =
    'root:x:0:0:root:/root:/bin/bash\n#comment\nalice:x:1000:1000::/home/alice:/bin/sh\n';
  it('finds the id in the third field', () => {
    expect(idFromText(passwd, 'root')).toBe(0);
    expect(idFromText(passwd, 'alice')).toBe(1000);
    expect(idFromText(passwd, 'bob')).toBeUndefined();
    expect(idFromText(passwd, 'x')).toBeUndefined();
  });
});
