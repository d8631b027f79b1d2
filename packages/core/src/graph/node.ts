import { promises as fs } from 'node:fs';
import type { BlobRef, Store } from '../cache/store';

/**
 * A unit of work in the build graph. Edges are plain awaits: a node's run (or key)
 * awaits the outcomes of the nodes it needs, so independent nodes run in parallel and
 * the graph is just the program.
 */
export interface Node<T> {
  /** modules, compile, export, ... */
  kind: string;
  /** Identity within one build: two nodes with the same id are the same work and run once. */
  id: string;
  /** What the user reads: "compile server linux/arm64". */
  label: string;
  /** The cache key: a digest of everything that can change the output. No key: never cached. */
  key?: () => Promise<string>;
  /**
   * Work that must be done before this node runs (a compile: its platform's standard
   * library), awaited only when the node does run (not on a cache hit) and before it takes
   * a slot (see prerequisite.ts), so that waiting never holds one.
   */
  before?: () => Promise<unknown>;
  /**
   * Does the work in a private scratch directory; files it names are published to the store.
   * The signal is the build's: when it aborts, the node stops and its processes die.
   */
  run: (scratch: string, signal?: AbortSignal) => Promise<NodeResult<T>>;
}

/** What a node's run returns: paths in its scratch directory, which the runner turns into the blobs of an Outcome. */
export interface NodeResult<T> {
  data: T;
  /** name → path of a file the node wrote inside its scratch directory (published as Outcome.files[name]). */
  paths?: Record<string, string>;
  /** name → a blob the node already put in the store itself (a streamed layer, say). */
  blobs?: Record<string, BlobRef>;
}

export interface Outcome<T> {
  data: T;
  /** Published outputs, immutable, in the store: blobs (a NodeResult names paths). */
  files: Record<string, BlobRef>;
  cached: boolean;
  /** Cached, and fetched from the remote tier for this build (see remote.ts). */
  remote?: boolean;
  ms: number;
}

/** The one node runner. Caching, limits, de-duplication and progress are wrappers around it. */
export interface Runner {
  /** `signal` stops this node (the build's own signal, given to directRunner, stops every node). */
  run<T>(node: Node<T>, signal?: AbortSignal): Promise<Outcome<T>>;
}

/**
 * Runs the node for real: scratch directory in, published blobs out, scratch removed.
 * Without a store (pushes: side effects only) a node gets no scratch and may name no files.
 * A node never starts once the signal (the call's, else the build's) has aborted.
 */
export function directRunner(store?: Store, opts: { signal?: AbortSignal } = {}): Runner {
  return {
    async run<T>(node: Node<T>, callSignal?: AbortSignal): Promise<Outcome<T>> {
      const signal = callSignal ?? opts.signal;
      signal?.throwIfAborted();
      const started = performance.now();
      if (!store) {
        const result = await node.run('', signal);
        if (result.paths && Object.keys(result.paths).length) throw new Error(`${node.label}: a node run without a store cannot publish files`);
        return { data: result.data, files: { ...(result.blobs ?? {}) }, cached: false, ms: performance.now() - started };
      }
      const scratch = await store.tempDir(node.kind);
      try {
        const result = await node.run(scratch, signal);
        const files: Record<string, BlobRef> = { ...(result.blobs ?? {}) };
        for (const [name, path] of Object.entries(result.paths ?? {})) files[name] = await store.putFile(path, { move: true });
        return { data: result.data, files, cached: false, ms: performance.now() - started };
      } finally {
        // Most nodes leave it empty (their files moved into the store): rmdir is one syscall.
        await fs.rmdir(scratch).catch(() => fs.rm(scratch, { recursive: true, force: true }));
      }
    },
  };
}
