/**
 * Logs and metrics of the Lambda functions, through Powertools for AWS Lambda: one logger and one metrics
 * object per function, wired by its handler's middy middlewares.
 *
 * @example
 * import { createLogger, createMetrics } from '../../shared/telemetry/index.js';
 * const logger = createLogger('import-chunk');
 * const metrics = createMetrics();
 *
 * @module
 */
export { createLogger, createMetrics, DEFAULT_NAMESPACE, DEFAULT_SERVICE } from './telemetry.js';
