// `@nx-fnbuild/core/images`: build-image, without pushing to a registry.
export * from './common';
export { buildImage, type BuildImageRequest, type BuildImageResult, type BuiltImage } from '../images/build-image';
export { buildImageOptionsSchema, type BuildImageOptions } from '../images/options';
export type { Base, PlatformBase, BaseLayer } from '../images/base';
