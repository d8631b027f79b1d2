import { z } from 'zod';
import { list } from '../binaries/options';
import { remoteCacheOption } from '../remote/option';

export const pushOptionsSchema = z
  .object({
    /** registry/repository (several: pushed to each, blobs mounted between them). */
    repository: list(z.string().min(1)).optional(),
    /** Tags to push (templates as for build-image); default: the tags build-image gave the image. */
    tags: list(z.string().min(1)).optional(),
    /** The target whose options build the image. */
    buildTarget: z.string().min(1).optional(),
    insecureRegistries: list(z.string().min(1)).optional(),
    caFile: z.string().min(1).optional(),
    username: z.string().min(1).optional(),
    /** The NAME of the environment variable holding the password or token (never the secret itself). */
    passwordEnv: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'the name of an environment variable, e.g. "REGISTRY_PASSWORD"')
      .optional(),
    metadataFile: z.string().min(1).optional(),
    sbom: z.boolean().optional(),
    parallelism: z.coerce.number().int().min(1).max(64).optional(),
    /** The remote cache of the image build a push runs; default: the build target's. */
    remoteCache: remoteCacheOption.optional(),
  })
  .strict();

export type PushOptions = z.infer<typeof pushOptionsSchema>;
