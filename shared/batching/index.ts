export { ShardWriter, type WriterHooks, type WriterOptions } from './shard-writer.js';
