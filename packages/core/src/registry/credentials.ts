import { promises as fs } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { DOCKER_HUB, normalizeRegistry } from '../oci/reference';
import { FnbuildError } from '../util/errors';
import { credentialHelperGet } from './credential-helper';
import { normalizeHost } from './transport';

/** What a registry may be given. Never logged, never put in a message. */
export interface Credentials {
  username?: string;
  password?: string;
  /** An OAuth2 refresh token for the registry's token service (docker's `identitytoken`). */
  identityToken?: string;
  /** A bearer token sent as is (docker's `registrytoken`). */
  registryToken?: string;
}

export interface ResolvedCredentials {
  credentials: Credentials;
  /** Where they came from, for messages: `~/.docker/config.json auths["ghcr.io"]`. */
  source: string;
}

export interface CredentialSources {
  /** Per registry host: credentials the caller was given (the password read from an env var). */
  explicit?: Readonly<Record<string, { username: string; password: string }>>;
  /** Directory of config.json; default $DOCKER_CONFIG, else ~/.docker. */
  dockerConfigDir?: string;
  /** Podman/skopeo-style auth file; default $REGISTRY_AUTH_FILE. */
  registryAuthFile?: string;
  /** Environment for the lookups above and for credential helpers (PATH). Default process.env. */
  env?: Record<string, string | undefined>;
}

interface AuthEntry {
  auth?: string;
  username?: string;
  password?: string;
  identitytoken?: string;
  registrytoken?: string;
}

interface ConfigFile {
  auths?: Record<string, AuthEntry>;
  credHelpers?: Record<string, string>;
  credsStore?: string;
}

/** The key Docker stores Docker Hub's credentials under. */
export const DOCKER_HUB_AUTH_KEY = 'https://index.docker.io/v1/';

/**
 * The registry a config key names, as docker reads keys: scheme and path dropped
 * (`https://index.docker.io/v1/` → `index.docker.io`), Docker Hub's aliases merged. A key
 * with a port only matches that port.
 */
export function registryOfKey(key: string): string {
  return normalizeRegistry(normalizeHost(key));
}

/** The exact key, else the first whose registry is the same. */
function lookup<T>(map: Record<string, T> | undefined, registry: string): [string, T] | undefined {
  if (!map || typeof map !== 'object') return undefined;
  const want = normalizeRegistry(registry);
  const exact = registry === DOCKER_HUB ? DOCKER_HUB_AUTH_KEY : registry;
  if (Object.hasOwn(map, exact)) return [exact, map[exact]!];
  const key = Object.keys(map).find((k) => registryOfKey(k) === want);
  return key === undefined ? undefined : [key, map[key]!];
}

async function readConfig(path: string): Promise<ConfigFile | undefined> {
  let text: string;
  try {
    text = await fs.readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new FnbuildError(`cannot read ${path}: ${(err as Error).message}`);
  }
  try {
    const doc = JSON.parse(text) as unknown;
    if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw new Error('not an object');
    return doc as ConfigFile;
  } catch {
    // No excerpt of the file: it holds secrets.
    throw new FnbuildError(`${path} is not valid JSON`, 'Fix or remove the file (it is where docker login stores credentials).');
  }
}

/** Reads an `auths` entry; undefined for the empty placeholders docker writes when a helper holds the secret. */
export function credentialsFromEntry(entry: AuthEntry | undefined): Credentials | undefined {
  if (!entry || typeof entry !== 'object') return undefined;
  let username = typeof entry.username === 'string' ? entry.username : undefined;
  let password = typeof entry.password === 'string' ? entry.password : undefined;
  if (typeof entry.auth === 'string' && entry.auth !== '') {
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) throw new FnbuildError('an "auth" value in the Docker config does not decode to user:password');
    username = decoded.slice(0, colon);
    password = decoded.slice(colon + 1);
  }
  const c: Credentials = {};
  if (username) c.username = username;
  if (typeof entry.identitytoken === 'string' && entry.identitytoken) c.identityToken = entry.identitytoken;
  else if (password) c.password = password;
  if (typeof entry.registrytoken === 'string' && entry.registrytoken) c.registryToken = entry.registrytoken;
  return c.password || c.identityToken || c.registryToken ? c : undefined;
}

async function fromHelper(helper: string, registry: string, env: Record<string, string | undefined>): Promise<Credentials | undefined> {
  const serverUrl = registry === DOCKER_HUB ? DOCKER_HUB_AUTH_KEY : registry;
  const got = await credentialHelperGet(helper, serverUrl, env);
  if (!got) return undefined;
  // Docker's convention: the username "<token>" marks the secret as an identity token.
  return got.username === '<token>' ? { username: got.username, identityToken: got.secret } : { username: got.username, password: got.secret };
}

/** Where credentials are looked for, in order, for "none found" messages. */
export function credentialSearchPath(sources: CredentialSources = {}): string[] {
  const env = sources.env ?? process.env;
  const configDir = sources.dockerConfigDir ?? env.DOCKER_CONFIG ?? join(env.HOME ?? homedir(), '.docker');
  const authFile = sources.registryAuthFile ?? env.REGISTRY_AUTH_FILE;
  return ['explicit credentials', join(configDir, 'config.json'), ...(authFile ? [authFile] : [])];
}

/**
 * Credentials for a registry host, in order: explicit ones; $DOCKER_CONFIG/config.json's
 * credHelpers[host] (its helper), auths[host], credsStore (its helper); then $REGISTRY_AUTH_FILE's
 * auths. Undefined when none apply (anonymous access).
 */
export async function resolveCredentials(registry: string, sources: CredentialSources = {}): Promise<ResolvedCredentials | undefined> {
  const host = normalizeRegistry(registry);
  const env = sources.env ?? process.env;

  const explicit = lookup(sources.explicit as Record<string, { username: string; password: string }> | undefined, host);
  if (explicit) {
    const { username, password } = explicit[1];
    return { credentials: { username, password }, source: `explicit credentials for ${host}` };
  }

  const configDir = sources.dockerConfigDir ?? env.DOCKER_CONFIG ?? join(env.HOME ?? homedir(), '.docker');
  const configPath = join(configDir, 'config.json');
  const config = await readConfig(configPath);
  if (config) {
    const helper = lookup(config.credHelpers, host);
    if (helper && typeof helper[1] === 'string' && helper[1]) {
      const c = await fromHelper(helper[1], host, env);
      if (c) return { credentials: c, source: `${configPath} credHelpers["${helper[0]}"] (docker-credential-${helper[1]})` };
    }
    const entry = lookup(config.auths, host);
    const c = credentialsFromEntry(entry?.[1]);
    if (c) return { credentials: c, source: `${configPath} auths["${entry![0]}"]` };
    if (typeof config.credsStore === 'string' && config.credsStore) {
      const s = await fromHelper(config.credsStore, host, env);
      if (s) return { credentials: s, source: `${configPath} credsStore (docker-credential-${config.credsStore})` };
    }
  }

  const authFile = sources.registryAuthFile ?? env.REGISTRY_AUTH_FILE;
  if (authFile) {
    const file = await readConfig(authFile);
    const entry = lookup(file?.auths, host);
    const c = credentialsFromEntry(entry?.[1]);
    if (c) return { credentials: c, source: `${authFile} auths["${entry![0]}"]` };
  }
  return undefined;
}
