import type { SourceRecord } from '../records/index.js';
import type { Command } from '../redis/index.js';

/**
 * A command produced from records. `records` are the records whose write this command carries: a server error
 * reply to the command rejects exactly these. Auxiliary commands (an `EXPIRE` after an `HSET`) carry none.
 */
export interface LoadCommand extends Command {
  readonly key: string;
  readonly records: readonly SourceRecord[];
}

/** A record the mapper refused, with the reason. */
export interface MapReject {
  readonly record: SourceRecord;
  readonly reason: string;
}

/** What mapping one reader batch gives. */
export interface MapResult {
  readonly commands: LoadCommand[];
  readonly rejects: MapReject[];
  /** Records intentionally not written (a null value in the string or bucketed model). */
  readonly skipped: number;
}

/** Turns records into Redis commands for one data model. */
export interface Mapper {
  map(records: readonly SourceRecord[]): MapResult;
}
