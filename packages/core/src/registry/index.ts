/** The registry side of the core: references, credentials, the client, and base-image pulls. */
export {
  apiHost,
  DOCKER_HUB,
  DOCKER_HUB_API,
  formatReference,
  formatRepository,
  manifestReference,
  normalizeRegistry,
  parseDigest,
  parseReference,
  parseRepository,
  ReferenceError,
  withDigest,
  type ImageRef,
  type RepoRef,
} from './reference';
export { resolveCredentials, credentialSearchPath, type CredentialSources, type Credentials, type ResolvedCredentials } from './credentials';
export { RegistryError, type RegistryErrorInfo } from './errors';
export { DEFAULT_RETRY, type RetryPolicy } from './retry';
export type { TransportOptions, BodySource } from './transport';
export {
  fileBlob,
  RegistryClient,
  type BlobSource,
  type ManifestBytes,
  type RegistryClientOptions,
  type UploadOptions,
  type UploadOutcome,
} from './client';
export { MANIFEST_ACCEPT } from './manifest';
export { ensureLayer, resolveImage, type ResolvedImage, type ResolveOptions } from './pull';
