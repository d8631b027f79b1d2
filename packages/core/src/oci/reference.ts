import type { Digest } from '../util/hash';
import { FnbuildError } from '../util/errors';

/**
 * Image references as Distribution's grammar defines them (distribution/reference), with
 * Docker Hub's defaults: `busybox` is `index.docker.io/library/busybox:latest`. The one place
 * that parses references, repository names, tags and digests: layouts, func.yaml and the
 * registry client all ask here, so they accept and refuse the same strings with the same words.
 */

/** A repository on a registry: what blobs and manifests are addressed under. */
export interface RepoRef {
  /** host[:port] as written (Docker Hub is `index.docker.io`). */
  readonly registry: string;
  /** Path on the registry, lowercase, e.g. `library/busybox`. */
  readonly repository: string;
}

/** A parsed image reference. At least one of tag and digest is set; a digest wins over a tag. */
export interface ImageRef extends RepoRef {
  readonly tag?: string;
  readonly digest?: Digest;
}

/** A malformed reference, repository name, tag or digest (not JavaScript's ReferenceError, hence the longer name). */
export class ImageReferenceError extends FnbuildError {
  override name = 'ImageReferenceError';
}

export const DOCKER_HUB = 'index.docker.io';
/** Where Docker Hub's registry API answers (index.docker.io is its name in references and config files). */
export const DOCKER_HUB_API = 'registry-1.docker.io';
const HUB_ALIASES = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io', 'registry.hub.docker.com']);
const MAX_NAME = 255;
const MAX_TAG = 128;

const DOMAIN_COMPONENT = /^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])$/;
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]*$/;
const SHA256_HEX = /^[a-f0-9]{64}$/;

/** The host the registry API is reached at (Docker Hub's differs from its name). */
export function apiHost(registry: string): string {
  return registry === DOCKER_HUB ? DOCKER_HUB_API : registry;
}

/** Canonical registry name: Docker Hub's aliases become `index.docker.io`, otherwise lowercase host[:port]. */
export function normalizeRegistry(registry: string): string {
  const r = registry.toLowerCase();
  return HUB_ALIASES.has(r) ? DOCKER_HUB : r;
}

function fail(input: string, what: string): never {
  throw new ImageReferenceError(`invalid image reference "${input}": ${what}`);
}

function checkRegistry(input: string, registry: string): void {
  let host = registry;
  let port: string | undefined;
  const v6 = /^\[([0-9a-fA-F:.]+)\](?::(.*))?$/.exec(registry);
  if (v6) {
    port = v6[2];
  } else {
    const colon = registry.lastIndexOf(':');
    if (colon >= 0) {
      host = registry.slice(0, colon);
      port = registry.slice(colon + 1);
    }
    if (!host.split('.').every((c) => DOMAIN_COMPONENT.test(c))) {
      fail(input, `registry "${registry}" is not a valid host[:port] (letters, digits, "-" and "." only)`);
    }
  }
  if (port !== undefined && !/^\d{1,5}$/.test(port)) {
    fail(input, `registry "${registry}" has port "${port}": a port is a number`);
  }
  if (port !== undefined && Number(port) > 65535) fail(input, `registry "${registry}" has port ${port}, above 65535`);
}

function checkRepository(input: string, repository: string, registry: string): void {
  if (repository === '') fail(input, 'the repository name is empty');
  if (repository !== repository.toLowerCase()) {
    throw new ImageReferenceError(`invalid image reference "${input}": repository "${repository}" must be lowercase: try "${repository.toLowerCase()}"`);
  }
  for (const component of repository.split('/')) {
    if (component === '') fail(input, `repository "${repository}" has an empty path component ("//" or a leading or trailing "/")`);
    if (!PATH_COMPONENT.test(component)) {
      fail(
        input,
        `repository "${repository}" has an invalid component "${component}": use lowercase letters and digits, ` +
          `separated by ".", "_", "__" or "-", starting and ending with a letter or digit`,
      );
    }
  }
  const name = `${registry}/${repository}`;
  if (name.length > MAX_NAME) fail(input, `the name "${name}" is ${name.length} characters long; the limit is ${MAX_NAME}`);
}

const TAG_RULE = `a tag is letters, digits, "_", "." and "-" (not first), up to ${MAX_TAG} characters`;

/** What is wrong with `tag`, as words that follow `tag "…"`; undefined for a valid tag. */
export function tagFault(tag: string): string | undefined {
  if (tag === '') return 'is empty';
  if (tag.length > MAX_TAG) return `is ${tag.length} characters long; the limit is ${MAX_TAG}`;
  if (TAG.test(tag)) return undefined;
  return /^[.-]/.test(tag) ? `starts with "${tag[0]}"` : `has invalid character ${JSON.stringify([...tag].find((c) => !/[\w.-]/.test(c)))}`;
}

export function isTag(tag: string): boolean {
  return tagFault(tag) === undefined;
}

/** A tag quoted for a message: a long one is cut, so the message stays readable. */
const quoteTag = (tag: string) => (tag.length > MAX_TAG ? `"${tag.slice(0, 20)}…"` : JSON.stringify(tag));

/** A tag given on its own (an image's tags, a manifest pushed under a tag): returns it, or says what is wrong. */
export function checkTag(tag: string): string {
  const fault = tagFault(tag);
  if (fault) throw new ImageReferenceError(`tag ${quoteTag(tag)} is not valid: it ${fault}; ${TAG_RULE}`);
  return tag;
}

function checkRefTag(input: string, tag: string): void {
  if (tag === '') fail(input, 'the tag after ":" is empty');
  const fault = tagFault(tag);
  if (!fault) return;
  fail(input, tag.length > MAX_TAG ? `tag ${quoteTag(tag)} ${fault}` : `tag ${quoteTag(tag)} ${fault}: ${TAG_RULE}`);
}

/** A repository path as a registry accepts it (`team/app`, no registry host); for names checked apart from a reference. */
export function isRepositoryPath(path: string): boolean {
  return path !== '' && path.split('/').every((c) => PATH_COMPONENT.test(c));
}

/** Validates a digest string; returns it typed. */
export function parseDigest(digest: string, input = digest): Digest {
  const colon = digest.indexOf(':');
  if (colon <= 0) fail(input, `digest "${digest}" is malformed: expected sha256:<64 hex characters>`);
  const algorithm = digest.slice(0, colon);
  const hex = digest.slice(colon + 1);
  if (algorithm !== 'sha256') {
    if (/^[a-z0-9]+(?:[.+_-][a-z0-9]+)*$/.test(algorithm)) fail(input, `digest algorithm "${algorithm}" is not supported: only sha256 is`);
    fail(input, `digest "${digest}" is malformed: expected sha256:<64 hex characters>`);
  }
  if (!SHA256_HEX.test(hex)) {
    const why =
      /[A-F]/.test(hex) && SHA256_HEX.test(hex.toLowerCase())
        ? 'hex must be lowercase'
        : `expected 64 hex characters, got ${hex.length}${/^[a-fA-F0-9]*$/.test(hex) ? '' : ' with non-hex ones'}`;
    fail(input, `digest "${digest}" is malformed: ${why}`);
  }
  return digest as Digest;
}

/**
 * Parses `[registry/]repo[:tag][@sha256:…]`. The first path component is a registry when it
 * has a "." or ":" or is `localhost`; otherwise the reference is on Docker Hub, where a
 * single-component name lives under `library/`. With neither tag nor digest, the tag is `latest`.
 */
export function parseReference(input: string): ImageRef {
  const ref = splitReference(input);
  return ref.tag === undefined && ref.digest === undefined ? { ...ref, tag: 'latest' } : ref;
}

/** parseReference without the default tag: what the input says, checked and normalized. */
function splitReference(input: string): ImageRef {
  if (typeof input !== 'string' || input.trim() === '') throw new ImageReferenceError('image reference is empty');
  if (input !== input.trim() || /\s/.test(input)) fail(input, 'it contains whitespace');
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(input)) fail(input, 'write it without a URL scheme (host/repo:tag, not https://host/repo:tag)');

  let rest = input;
  let digest: Digest | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    const d = rest.slice(at + 1);
    if (d === '') fail(input, 'the digest after "@" is empty');
    digest = parseDigest(d, input);
    rest = rest.slice(0, at);
  }

  let tag: string | undefined;
  const lastColon = rest.lastIndexOf(':');
  if (lastColon > rest.lastIndexOf('/')) {
    tag = rest.slice(lastColon + 1);
    rest = rest.slice(0, lastColon);
    checkRefTag(input, tag);
  }

  let registry = DOCKER_HUB;
  let repository = rest;
  const slash = rest.indexOf('/');
  const first = slash >= 0 ? rest.slice(0, slash) : '';
  if (slash >= 0 && (first.includes('.') || first.includes(':') || first === 'localhost' || first.startsWith('['))) {
    registry = first;
    repository = rest.slice(slash + 1);
    checkRegistry(input, registry);
    registry = normalizeRegistry(registry);
  }
  // Checked as written (so messages quote the user's text), then Docker Hub's library/ added.
  checkRepository(input, repository, registry);
  if (registry === DOCKER_HUB && !repository.includes('/')) repository = `library/${repository}`;
  return { registry, repository, ...(tag !== undefined ? { tag } : {}), ...(digest ? { digest } : {}) };
}

/** Parses `registry/repo` (no tag, no digest). */
export function parseRepository(input: string): RepoRef {
  if (/[@]/.test(input) || /:[^/]*$/.test(input.slice(input.indexOf('/') + 1))) {
    fail(input, 'a repository takes no tag or digest');
  }
  const { registry, repository } = parseReference(input);
  return { registry, repository };
}

/** `registry/repo` accepts either form; strings are parsed. */
export function toRepo(repo: RepoRef | string): RepoRef {
  return typeof repo === 'string' ? parseRepository(repo) : repo;
}

export function toRef(ref: ImageRef | string): ImageRef {
  return typeof ref === 'string' ? parseReference(ref) : ref;
}

export function formatRepository(repo: RepoRef): string {
  return `${repo.registry}/${repo.repository}`;
}

/** Fully qualified: `index.docker.io/library/busybox:latest`, `host/repo@sha256:…`, or both. */
export function formatReference(ref: ImageRef): string {
  return `${formatRepository(ref)}${ref.tag !== undefined ? `:${ref.tag}` : ''}${ref.digest ? `@${ref.digest}` : ''}`;
}

/** What goes after `/manifests/`: the digest when there is one, else the tag. */
export function manifestReference(ref: ImageRef): string {
  const id = ref.digest ?? ref.tag;
  if (!id) throw new ImageReferenceError(`image reference ${formatRepository(ref)} has neither tag nor digest`);
  return id;
}

/** Same repository, pinned to a digest (the tag kept for display). */
export function withDigest(ref: ImageRef, digest: Digest): ImageRef {
  return { ...ref, digest };
}

/** A `name:tag` the way Docker names it: `full` is what containerd stores, `familiar` what `docker images` shows. */
export interface DockerRepoTag {
  /** `hello:1`, `team/app:1`, `localhost:5000/hello:dev` (Docker Hub's domain and `library/` left out). */
  familiar: string;
  /** `docker.io/library/hello:1`: always with a domain. */
  full: string;
  tag: string;
}

/** The name Docker gives the registry: `docker.io` for Docker Hub, which references here call index.docker.io. */
const DOCKER_DOMAIN = 'docker.io';

/** "hello:1" → { familiar: "hello:1", full: "docker.io/library/hello:1", tag: "1" } (Docker's normalization); a tag is required, a digest refused. */
export function parseRepoTag(input: string): DockerRepoTag {
  const ref = splitReference(input);
  if (ref.tag === undefined || ref.digest !== undefined) throw new ImageReferenceError(`repo tag "${input}" needs a tag and no digest, e.g. "hello:latest"`);
  const hub = ref.registry === DOCKER_HUB;
  const familiarName = hub ? ref.repository.replace(/^library\/(?=[^/]+$)/, '') : formatRepository(ref);
  return { familiar: `${familiarName}:${ref.tag}`, full: `${hub ? DOCKER_DOMAIN : ref.registry}/${ref.repository}:${ref.tag}`, tag: ref.tag };
}
