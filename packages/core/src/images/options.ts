import { z } from 'zod';
import { buildSettingsSchema, list } from '../binaries/options';
import { isRepositoryPath } from '../oci/reference';

const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name');
const absolute = (what: string) => z.string().regex(/^\/[^\0]*$/, `${what} is an absolute path inside the image, e.g. "/app"`);

export const IMAGE_FORMATS = ['oci-layout', 'oci-archive', 'docker-archive'] as const;

/**
 * build-image: the build settings of build-binaries, except that `env` is the image's
 * environment (what a container user means by env) and the go command's is `buildEnv`.
 */
export const buildImageOptionsSchema = buildSettingsSchema
  .omit({ env: true })
  .extend({
    buildEnv: buildSettingsSchema.shape.env,
    baseImage: z.string().min(1).optional(),
    binaryPath: absolute('binaryPath').optional(),
    files: z.array(z.object({ from: z.string().min(1), to: absolute('files[].to') }).strict('valid keys: from, to')).optional(),
    entrypoint: z.array(z.string()).min(1).optional(),
    cmd: list(z.string()).optional(),
    env: z.record(envName, z.string()).optional(),
    user: z
      .string()
      .regex(/^[A-Za-z0-9_.-]+(:[A-Za-z0-9_.-]+)?$/, 'a user is "name", "uid" or "uid:gid"')
      .optional(),
    workingDir: absolute('workingDir').optional(),
    ports: list(z.coerce.string().regex(/^\d{1,5}(\/(tcp|udp|sctp))?$/, 'a port is like 8080, "8080/tcp" or "53/udp"')).optional(),
    labels: z.record(z.string().min(1), z.string()).optional(),
    imageName: z.string().refine(isRepositoryPath, 'an image name is lowercase letters, digits and separators (., _, -, /), e.g. "team/server"').optional(),
    tags: list(z.string().min(1)).optional(),
    format: z.enum(IMAGE_FORMATS).optional(),
    outputPath: z.string().min(1).optional(),
    metadataFile: z.string().min(1).optional(),
    iidFile: z.string().min(1).optional(),
    sbom: z.boolean().optional(),
    insecureRegistries: list(z.string().min(1)).optional(),
    caFile: z.string().min(1).optional(),
  })
  .strict();

export type BuildImageOptions = z.infer<typeof buildImageOptionsSchema>;
