// NodeTable: the kernel's node ids as paths, through lookups, forgets,
// renames, unlinks and names hidden while open.
import { describe, expect, it } from 'vitest';
import { NodeTable, ROOT_NODE } from '../../../fs/fuse/nodes.js';

describe('NodeTable', () => {
  it('gives one node per looked-up name, and a path through its parents', () => {
    const t = new NodeTable();
    const a = t.found(ROOT_NODE, 'a');
    const b = t.found(a, 'b%_\'\n');
    expect(t.found(ROOT_NODE, 'a')).toBe(a);
    expect(t.path(ROOT_NODE)).toBe('/');
    expect(t.path(b)).toBe('/a/b%_\'\n');
    expect(t.childPath(b, 'c')).toBe('/a/b%_\'\n/c');
  });

  it('keeps a node until the kernel forgets every lookup of it', () => {
    const t = new NodeTable();
    const a = t.found(ROOT_NODE, 'a');
    t.found(ROOT_NODE, 'a');
    t.forget(a, 1);
    expect(t.path(a)).toBe('/a');
    t.forget(a, 1);
    expect(t.path(a)).toBeUndefined();
    expect(t.found(ROOT_NODE, 'a')).not.toBe(a);
    t.forget(ROOT_NODE, 1);
    expect(t.path(ROOT_NODE)).toBe('/');
  });

  it('moves a node and everything below it on rename, and forgets what the rename replaced', () => {
    const t = new NodeTable();
    const d = t.found(ROOT_NODE, 'd');
    const f = t.found(d, 'f');
    const e = t.found(ROOT_NODE, 'e');
    t.moved(ROOT_NODE, 'd', ROOT_NODE, 'e');
    expect(t.path(f)).toBe('/e/f');
    expect(t.child(ROOT_NODE, 'e')).toBe(d);
    expect(t.path(e)).toBeUndefined();
    expect(t.child(ROOT_NODE, 'd')).toBeUndefined();
  });

  it('an unlinked node has no path, even if the name is made again', () => {
    const t = new NodeTable();
    const f = t.found(ROOT_NODE, 'f');
    t.removed(ROOT_NODE, 'f');
    const again = t.found(ROOT_NODE, 'f');
    expect(again).not.toBe(f);
    expect(t.path(f)).toBeUndefined();
    expect(t.path(again)).toBe('/f');
  });

  it('a hidden node answers its hidden path at its last release, and only then', () => {
    const t = new NodeTable();
    const f = t.found(ROOT_NODE, 'f');
    t.opened(f);
    t.opened(f);
    expect(t.isOpen(f)).toBe(true);
    const hidden = t.hiddenName(f);
    expect(hidden).toMatch(/^\.fuse_hidden[0-9a-f]{16}$/);
    t.hid(ROOT_NODE, 'f', hidden);
    expect(t.child(ROOT_NODE, 'f')).toBeUndefined();
    expect(t.released(f)).toBeUndefined();
    expect(t.released(f)).toBe(`/${hidden}`);
    expect(t.path(f)).toBeUndefined();
    expect(t.released(f)).toBeUndefined();
    expect(t.hiddenName(f)).not.toBe(hidden);
  });

  it('frees a forgotten node when its last handle is released', () => {
    const t = new NodeTable();
    const f = t.found(ROOT_NODE, 'f');
    t.opened(f);
    t.forget(f, 1);
    expect(t.size).toBe(2);
    t.released(f);
    expect(t.size).toBe(1);
  });
});
