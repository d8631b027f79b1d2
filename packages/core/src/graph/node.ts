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
  /** Does the work in a private scratch directory; files it names are published to the store. */
  run: (scratch: string) => Promise<NodeResult<T>>;
}

export interface NodeResult<T> {
  data: T;
  /** name → path of a file the node wrote inside its scratch directory. */
  files?: Record<string, string>;
  /** name → a blob the node already put in the store itself (a streamed layer, say). */
  blobs?: Record<string, BlobRef>;
}

export interface Outcome<T> {
  data: T;
  /** Published outputs, immutable, in the store. */
  files: Record<string, BlobRef>;
  cached: boolean;
  /** Cached, and fetched from the remote tier for this build (see remote.ts). */
  remote?: boolean;
  ms: number;
}

/** The one node runner. Caching, limits, de-duplication and progress are wrappers around it. */
export interface Runner {
  run<T>(node: Node<T>): Promise<Outcome<T>>;
}

/**
 * Runs the node for real: scratch directory in, published blobs out, scratch removed.
 * Without a store (pushes: side effects only) a node gets no scratch and may name no files.
 */
export function directRunner(store?: Store): Runner {
  return {
    async run<T>(node: Node<T>): Promise<Outcome<T>> {
      const started = performance.now();
      if (!store) {
        const result = await node.run('');
        if (result.files && Object.keys(result.files).length) throw new Error(`${node.label}: a node run without a store cannot publish files`);
        return { data: result.data, files: { ...(result.blobs ?? {}) }, cached: false, ms: performance.now() - started };
      }
      const scratch = await store.tempDir(node.kind);
      try {
        const result = await node.run(scratch);
        const files: Record<string, BlobRef> = { ...(result.blobs ?? {}) };
        for (const [name, path] of Object.entries(result.files ?? {})) files[name] = await store.putFile(path, { move: true });
        return { data: result.data, files, cached: false, ms: performance.now() - started };
      } finally {
        await fs.rm(scratch, { recursive: true, force: true });
      }
    },
  };
}
