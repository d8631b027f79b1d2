// `@nx-fnbuild/core/publish`: push.
export * from './common';
export { pushImages, type PushRequest, type PushedImage } from '../publish/publish';
export { pushOptionsSchema, type PushOptions } from '../publish/options';
