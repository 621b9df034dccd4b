// The kernel's names for files: FUSE's low-level protocol speaks of node ids,
// the shim of paths. A node is one name the kernel has looked up (as libfuse's
// path API numbers them), so its path is its parent's path and its name; it
// lives until the kernel forgets every lookup of it. A file with open handles
// whose name is unlinked or replaced is renamed aside first (hidden), as
// libfuse's path API does, and unlinked when its last handle is released.

import { joinPath } from '../paths.js';

export const ROOT_NODE = 1;

interface Node {
  parent: number;
  name: string;
  /** Lookups the kernel holds (each entry answered adds one; FORGET takes them back). */
  lookups: number;
  /** Handles open on this node. */
  opens: number;
  /** Renamed aside while open: unlink it at its last release. */
  hidden: boolean;
  /** Its name is gone (unlinked, or replaced by a rename). */
  gone: boolean;
}

const key = (parent: number, name: string) => `${parent}/${name}`;

export class NodeTable {
  private readonly nodes = new Map<number, Node>([[ROOT_NODE, { parent: 0, name: '', lookups: 1, opens: 0, hidden: false, gone: false }]]);
  private readonly byName = new Map<string, number>();
  private nextId = ROOT_NODE + 1;
  private hiddenCount = 0;

  /** The node's path, or undefined when the kernel names a node whose name is gone or unknown. */
  path(id: number): string | undefined {
    if (id === ROOT_NODE) return '/';
    let n = this.nodes.get(id);
    if (!n || n.gone) return undefined;
    let path = `/${n.name}`;
    while (n.parent !== ROOT_NODE) {
      n = this.nodes.get(n.parent);
      if (!n) return undefined;
      path = `/${n.name}${path}`;
    }
    return path;
  }

  /** A name's path below the node `parent`. */
  childPath(parent: number, name: string): string | undefined {
    const dir = this.path(parent);
    if (dir === undefined) return undefined;
    return joinPath(dir, name);
  }

  /** The kernel now holds one more lookup of parent/name: its node id. */
  found(parent: number, name: string): number {
    const k = key(parent, name);
    let id = this.byName.get(k);
    if (id === undefined) {
      id = this.nextId++;
      this.nodes.set(id, { parent, name, lookups: 0, opens: 0, hidden: false, gone: false });
      this.byName.set(k, id);
    }
    this.nodes.get(id)!.lookups++;
    return id;
  }

  forget(id: number, lookups: number): void {
    const n = this.nodes.get(id);
    if (!n || id === ROOT_NODE) return;
    n.lookups -= lookups;
    if (n.lookups > 0 || n.opens > 0) return;
    this.nodes.delete(id);
    if (this.byName.get(key(n.parent, n.name)) === id) this.byName.delete(key(n.parent, n.name));
  }

  /** The node named parent/name, if the kernel holds one. */
  child(parent: number, name: string): number | undefined {
    return this.byName.get(key(parent, name));
  }

  isOpen(id: number | undefined): boolean {
    return id !== undefined && (this.nodes.get(id)?.opens ?? 0) > 0;
  }

  opened(id: number): void {
    const n = this.nodes.get(id);
    if (n) n.opens++;
  }

  /** A handle is released: answers the hidden path to unlink if this was the node's last handle. */
  released(id: number): string | undefined {
    const n = this.nodes.get(id);
    if (!n) return undefined;
    n.opens = Math.max(0, n.opens - 1);
    if (n.opens > 0) return undefined;
    const path = n.hidden ? this.path(id) : undefined;
    if (n.hidden) this.removed(n.parent, n.name);
    n.hidden = false;
    if (n.lookups <= 0) this.forget(id, 0);
    return path;
  }

  /** parent/name no longer exists. */
  removed(parent: number, name: string): void {
    const k = key(parent, name);
    const id = this.byName.get(k);
    if (id === undefined) return;
    this.byName.delete(k);
    const n = this.nodes.get(id);
    if (n) n.gone = true;
  }

  /** parent/name was renamed to newParent/newName, replacing whatever had that name. */
  moved(parent: number, name: string, newParent: number, newName: string): void {
    this.removed(newParent, newName);
    const k = key(parent, name);
    const id = this.byName.get(k);
    if (id === undefined) return;
    this.byName.delete(k);
    const n = this.nodes.get(id)!;
    n.parent = newParent;
    n.name = newName;
    this.byName.set(key(newParent, newName), id);
  }

  /** A name for hiding an open node beside its old one; the caller renames it there, then calls hid(). */
  hiddenName(id: number): string {
    return `.fuse_hidden${(id >>> 0).toString(16).padStart(8, '0')}${(this.hiddenCount++ >>> 0).toString(16).padStart(8, '0')}`;
  }

  hid(parent: number, name: string, hiddenName: string): void {
    this.moved(parent, name, parent, hiddenName);
    const id = this.byName.get(key(parent, hiddenName));
    if (id !== undefined) this.nodes.get(id)!.hidden = true;
  }

  /** Nodes the kernel holds, for tests and stats. */
  get size(): number {
    return this.nodes.size;
  }
}
