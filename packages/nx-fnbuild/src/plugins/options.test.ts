import { normalizeOptions } from './options';

test('defaults: the four target names, nothing else set', () => {
  expect(normalizeOptions(undefined)).toEqual({
    buildBinariesTargetName: 'build-binaries',
    buildImageTargetName: 'build-image',
    pushTargetName: 'push',
    testTargetName: 'test',
    platforms: undefined,
    imagePlatforms: undefined,
    registry: undefined,
    baseImage: undefined,
    ldflags: undefined,
  });
});

test('image platforms default to the linux ones of platforms; a registry loses its trailing slash', () => {
  const o = normalizeOptions({ platforms: ['linux/amd64', 'darwin/arm64', 'linux/arm/v7'], registry: 'ghcr.io/acme/' });
  expect(o.imagePlatforms).toEqual(['linux/amd64', 'linux/arm/v7']);
  expect(o.registry).toBe('ghcr.io/acme');
  expect(normalizeOptions({ platforms: ['darwin/arm64'] }).imagePlatforms).toBeUndefined();
  expect(normalizeOptions({ platforms: ['linux/amd64'], imagePlatforms: ['linux/arm64'] }).imagePlatforms).toEqual(['linux/arm64']);
});

test('errors name the option, the value and what is valid', () => {
  expect(() => normalizeOptions({ platform: ['linux/amd64'] } as never)).toThrow(
    'nx-fnbuild plugin options (nx.json): unknown option "platform"; valid options: buildBinariesTargetName, buildImageTargetName, pushTargetName, testTargetName, platforms, imagePlatforms, registry, baseImage, ldflags',
  );
  expect(() => normalizeOptions({ platforms: 'linux/amd64' as never })).toThrow(
    'option "platforms" (got "linux/amd64"): a non-empty list of platforms like ["linux/amd64", "linux/arm64"]',
  );
  expect(() => normalizeOptions({ buildImageTargetName: 'build image' })).toThrow('option "buildImageTargetName" (got "build image")');
  expect(() => normalizeOptions({ pushTargetName: 'build-image' })).toThrow(
    'the target names must differ (got build-binaries, build-image, build-image, test)',
  );
  expect(() => normalizeOptions({ registry: '' })).toThrow('option "registry" (got ""): a non-empty string');
});
