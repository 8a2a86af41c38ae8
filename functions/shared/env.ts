import * as z from 'zod';
import { ConfigError, type DeploymentConfig, describeIssues, parseDeploymentConfig } from './config.js';

/**
 * Runtime environment, read and validated once at cold start. A function module calls
 * `parseEnv(schema)` at module scope, so a wrong or missing variable fails the first
 * invocation with a message naming the variable instead of failing somewhere deep later.
 */
export const parseEnv = <T extends z.ZodType>(
  schema: T,
  env: NodeJS.ProcessEnv = process.env,
): z.output<T> => {
  const result = schema.safeParse(env);
  if (!result.success) {
    throw new ConfigError(`Invalid function environment:\n${describeIssues(result.error)}`);
  }
  return result.data;
};

/** `BRIDGE_CONFIG` holds the deployment config as JSON; the same schema validates it here. */
export const bridgeConfigVariable = z
  .string({ message: 'expected BRIDGE_CONFIG to hold the deployment config as JSON' })
  .transform((value, ctx): DeploymentConfig => {
    try {
      return parseDeploymentConfig(JSON.parse(value), 'BRIDGE_CONFIG');
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: error instanceof Error ? error.message : String(error) });
      return z.NEVER;
    }
  });
