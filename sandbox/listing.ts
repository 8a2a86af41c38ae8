import { type DeploymentConfig, type Product, productFor } from '#shared/config';

/**
 * The listing the sandbox's buyer simulator plays: the config's first product. The Marketplace
 * emulator serves one listing; the SaaSus emulator knows every product's plans and units.
 */
export const sandboxProduct = (config: Pick<DeploymentConfig, 'products'>): Product =>
  productFor(config, config.products[0]?.productCode ?? '');

/** Every product's SaaSus metering units, once per unit name (the SaaSus env is shared). */
export const allMeteringUnits = (config: Pick<DeploymentConfig, 'products'>) => [
  ...new Map(
    config.products.flatMap((product) => product.meteringUnits).map((unit) => [unit.saasusUnit, unit]),
  ).values(),
];
