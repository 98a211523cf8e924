/**
 * The slots that bound how many directories the scanner lists at once: never more than the
 * count at a time, first come first served, and after close() nothing new starts.
 */
import { describe, expect, it } from 'vitest';
import { Slots } from '../../src/layout/slots.js';

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('Slots', () => {
  it('runs at most `count` at once, in the order they asked', async () => {
    const slots = new Slots(3);
    let running = 0;
    let most = 0;
    const started: number[] = [];
    const gates: (() => void)[] = [];
    const all = Array.from({ length: 10 }, (_, i) =>
      slots.run(async () => {
        started.push(i);
        running++;
        most = Math.max(most, running);
        await new Promise<void>((resolve) => gates.push(resolve));
        running--;
        return i * 2;
      }),
    );
    for (let round = 0; round < 10; round++) {
      await tick();
      gates.shift()?.();
    }
    expect(await Promise.all(all)).toEqual(Array.from({ length: 10 }, (_, i) => i * 2));
    expect(most).toBe(3);
    expect(started).toEqual([...Array(10).keys()]);
  });

  it('frees the slot of work that fails', async () => {
    const slots = new Slots(1);
    await expect(slots.run(() => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await slots.run(async () => 'next')).toBe('next');
  });

  it('after close(), work not yet started fails with the reason; work running ends', async () => {
    const slots = new Slots(1);
    let release!: () => void;
    const running = slots.run(() => new Promise<string>((r) => (release = () => r('done'))));
    let ran = false;
    const waiting = slots.run(async () => {
      ran = true;
    });
    await tick();
    const reason = new Error('scan failed');
    slots.close(reason);
    release();
    expect(await running).toBe('done');
    await expect(waiting).rejects.toBe(reason);
    await expect(slots.run(async () => 'late')).rejects.toBe(reason);
    expect(ran).toBe(false);
  });
});
