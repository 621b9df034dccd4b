// The batcher alone: which keys go to the database together, and in what order answers come back.
import { describe, expect, it } from 'vitest';
import { Batcher } from '../../fs/batcher.js';

/** A batcher over "the database" that records each statement's keys and answers key*10 after `delayMs`. */
function recording(maxBatch?: number, delayMs = 5, maxInFlight?: number) {
  const statements: number[][] = [];
  const b = new Batcher<number, number>(async (keys) => {
    statements.push(keys);
    await new Promise((r) => setTimeout(r, delayMs));
    return keys.map((k) => k * 10);
  }, { maxBatch, maxInFlight });
  return { b, statements };
}

/**
 * Resolves in the event loop's next check phase, after the flush a get() just
 * scheduled (setImmediate callbacks run in order). A timer instead could fire
 * first on a loaded machine, and the keys meant for two statements then went
 * in one.
 */
const nextTurn = () => new Promise((r) => setImmediate(r));

describe('Batcher', () => {
  it('sends the keys asked for in one turn as one statement, each asker getting its own answer', async () => {
    const { b, statements } = recording();
    expect(await Promise.all([1, 2, 3].map((k) => b.get(k)))).toEqual([10, 20, 30]);
    expect(statements).toEqual([[1, 2, 3]]);
  });

  it('gathers keys asked for from separate I/O callbacks of one turn', async () => {
    const { b, statements } = recording();
    // Timers that fire together stand in for FUSE requests arriving in one poll.
    const answers = Promise.all([4, 5, 6].map((k) => new Promise<number>((r) => setTimeout(() => r(b.get(k)), 0))));
    // All three must be due when the loop reaches its timers: on a loaded
    // machine the clock could pass a millisecond between the first and the
    // last, and the last then fired in a later turn (a flake in the suite).
    for (const until = Date.now() + 5; Date.now() < until;);
    expect(await answers).toEqual([40, 50, 60]);
    expect(statements).toEqual([[4, 5, 6]]);
  });

  it('asks once for a key wanted twice in one turn', async () => {
    const { b, statements } = recording();
    expect(await Promise.all([7, 7, 8].map((k) => b.get(k)))).toEqual([70, 70, 80]);
    expect(statements).toEqual([[7, 8]]);
  });

  it('never answers from a statement sent before the key was asked for', async () => {
    const { b, statements } = recording(32, 30);
    const first = b.get(1);
    await nextTurn(); // the first statement is on its way
    const second = b.get(1);
    expect([await first, await second]).toEqual([10, 10]);
    expect(statements).toEqual([[1], [1]]);
  });

  it('splits a turn with more keys than the batch limit into several statements', async () => {
    const { b, statements } = recording(4);
    const keys = Array.from({ length: 10 }, (_, i) => i);
    expect(await Promise.all(keys.map((k) => b.get(k)))).toEqual(keys.map((k) => k * 10));
    expect(statements).toEqual([[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]);
    expect(b.sent).toBe(3);
  });

  it('with an in-flight limit, holds what arrives while statements are out and sends it together when one finishes', async () => {
    const { b, statements } = recording(3, 20, 1);
    const answers: Promise<number>[] = [b.get(1)]; // alone: goes at once
    await nextTurn();
    for (const k of [2, 3]) { answers.push(b.get(k)); await nextTurn(); } // asked in separate turns, while 1 is out
    answers.push(...[4, 5].map((k) => b.get(k)));
    expect(await Promise.all(answers)).toEqual([10, 20, 30, 40, 50]);
    // The batch limit still applies to what waited; the limit of one statement out, too.
    expect(statements).toEqual([[1], [2, 3, 4], [5]]);
    const two = recording(32, 20, 2);
    const both = [two.b.get(1)];
    await nextTurn();
    both.push(two.b.get(2)); // a second statement may be out
    await nextTurn();
    both.push(two.b.get(3), two.b.get(4));
    expect(await Promise.all(both)).toEqual([10, 20, 30, 40]);
    expect(two.statements).toEqual([[1], [2], [3, 4]]);
  });

  it('with a weight limit, ends a statement before the key that would pass it; a key heavier than the limit goes alone', async () => {
    const statements: number[][] = [];
    const b = new Batcher<number, number>(async (keys) => { statements.push(keys); return keys; }, { weightOf: (k) => k, maxWeight: 10 });
    const keys = [4, 5, 2, 12, 3, 1];
    expect(await Promise.all(keys.map((k) => b.get(k)))).toEqual(keys);
    expect(statements).toEqual([[4, 5], [2], [12], [3, 1]]);
  });

  it('gives a failed statement\'s error to every asker in it, and goes on afterwards', async () => {
    let fail = true;
    const b = new Batcher<number, number>(async (keys) => {
      if (fail) throw new Error('server gone');
      return keys;
    });
    const results = await Promise.allSettled([b.get(1), b.get(2)]);
    expect(results.map((r) => r.status === 'rejected' && (r.reason as Error).message)).toEqual(['server gone', 'server gone']);
    fail = false;
    expect(await b.get(3)).toBe(3);
    const throwing = new Batcher<number, number>(() => { throw new Error('bad statement'); });
    await expect(throwing.get(1)).rejects.toThrow('bad statement');
    // A failed statement frees its place for what waited behind it: the second
    // request comes while the first statement is out.
    fail = true;
    const limited = new Batcher<number, number>(async (keys) => {
      if (!fail) return keys;
      fail = false;
      await new Promise((r) => setTimeout(r, 5));
      throw new Error('once');
    }, { maxInFlight: 1 });
    const first = limited.get(1);
    await nextTurn();
    const [a, c] = await Promise.allSettled([first, limited.get(2)]);
    expect([a.status, c.status === 'fulfilled' && c.value]).toEqual(['rejected', 2]);
    expect(limited.sent).toBe(2);
  });
});
