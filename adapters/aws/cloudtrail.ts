/**
 * The account's own CloudTrail, read from the S3 bucket its trail delivers log files to: gzip JSON
 * files (`{"Records":[...]}`) under `<prefix>/AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/`,
 * named `<account>_CloudTrail_<region>_YYYYMMDDTHHmmZ_<unique>.json.gz` by the time of delivery.
 * CloudTrail delivers a record typically within 5 minutes and up to 15; S3 object reads are data
 * events, logged only by a trail with data events on, and never in the event history LookupEvents
 * reads — which is why the bucket is read, not the event history.
 *
 * jitc only lists and reads the bucket, with the admin credential (s3:ListBucket, s3:GetObject);
 * it never creates or changes a trail. A reader starts at the time a scenario set up and lists only
 * the files delivered since, in the regions its records can be in (the target's own, and us-east-1,
 * where a trail records IAM, a global service). Each file is read once, one at a time, and only
 * the records the caller keeps stay in memory: a busy account's trail costs reads, not memory
 * beyond one file.
 */
import { gunzipSync } from 'node:zlib';
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import type { TargetConnection } from '../contract.ts';
import { CLOUDTRAIL_SETTINGS } from './targets.ts';

/** Where a trail delivers, as the configuration names it (`aws.cloudTrail`). */
export interface TrailLocation {
  bucket: string;
  /** The trail's own key prefix, without slashes at either end; '' when it has none. */
  prefix: string;
  account: string;
  /** The regions whose folders are read: the target's, and us-east-1 for IAM's records. */
  regions: string[];
  deliveryMs: number;
}

/** The trail the connection names, or undefined: on the embedded emulator, or when the configuration names none. */
export function trailLocation(connection: TargetConnection): TrailLocation | undefined {
  const s = connection.settings;
  const bucket = s[CLOUDTRAIL_SETTINGS.bucket];
  if (connection.mode !== 'external' || !bucket || !s.account || !s.region) return undefined;
  const minutes = Number(s[CLOUDTRAIL_SETTINGS.deliveryMinutes] ?? '15');
  return {
    bucket,
    prefix: s[CLOUDTRAIL_SETTINGS.prefix] ?? '',
    account: s.account,
    regions: [...new Set([s.region, 'us-east-1'])],
    deliveryMs: (Number.isFinite(minutes) && minutes > 0 ? minutes : 15) * 60_000,
  };
}

export function describeLocation(trail: TrailLocation): string {
  return `s3://${trail.bucket}/${trail.prefix ? `${trail.prefix}/` : ''}AWSLogs/${trail.account}/CloudTrail/`;
}

/**
 * One CloudTrail record, reduced to what correlation needs (CloudTrail record contents): who called
 * (userIdentity), what (eventSource, eventName), when (eventTime, whole seconds, UTC), with which
 * request parameters and response elements, and whether it failed (errorCode).
 */
export interface TrailRecord {
  eventTime: string;
  eventSource: string;
  eventName: string;
  eventId: string;
  /** `Management` or `Data` (eventCategory; absent from older records). */
  eventCategory: string;
  /** userIdentity.accessKeyId: the key the call was signed with ('' when the record states none). */
  accessKeyId: string;
  /** userIdentity.arn. */
  arn: string;
  requestParameters: Record<string, unknown>;
  responseElements: Record<string, unknown>;
  errorCode: string;
}

const object = (value: unknown): Record<string, unknown> => (value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {});
export const text = (value: unknown): string => (typeof value === 'string' ? value : '');

/** A raw record as the log file holds it, reduced; undefined when it is not one (no eventName or eventTime). */
export function reduceRecord(raw: unknown): TrailRecord | undefined {
  const r = object(raw);
  const eventName = text(r.eventName);
  const eventTime = text(r.eventTime);
  if (!eventName || Number.isNaN(Date.parse(eventTime))) return undefined;
  const identity = object(r.userIdentity);
  return {
    eventTime,
    eventSource: text(r.eventSource),
    eventName,
    eventId: text(r.eventID),
    eventCategory: text(r.eventCategory),
    accessKeyId: text(identity.accessKeyId),
    arn: text(identity.arn),
    requestParameters: object(r.requestParameters),
    responseElements: object(r.responseElements),
    errorCode: text(r.errorCode),
  };
}

/** Whether a record is an S3 data event (an object read or write), which only a trail with data events on logs. */
export function isS3DataEvent(record: TrailRecord): boolean {
  return record.eventSource === 's3.amazonaws.com' && (record.eventCategory === 'Data' || /^(GetObject|PutObject|HeadObject|DeleteObject)$/.test(record.eventName));
}

/** What reading a log file found beyond the records kept: how far the trail has delivered, and whether it logs data events. */
export interface TrailCoverage {
  files: number;
  records: number;
  /** The newest eventTime of any record read, whoever made it: the trail has delivered up to there. */
  latestEventTime: string | undefined;
  /** Whether any S3 data event was read at all. */
  dataEvents: boolean;
}

/** The gzip JSON of one log file, parsed: the records it holds. A file that is not CloudTrail's (no Records array) throws. */
export function parseLogFile(bytes: Uint8Array): unknown[] {
  // gzip's magic bytes; a trail writes nothing else, but a copied-out file may already be unpacked.
  const json = bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzipSync(bytes).toString('utf8') : Buffer.from(bytes).toString('utf8');
  const records = object(JSON.parse(json)).Records;
  if (!Array.isArray(records)) throw new Error('not a CloudTrail log file: no "Records" array');
  return records;
}

const pad = (n: number): string => String(n).padStart(2, '0');

/** The day folders from `since` to `until` (UTC), each `YYYY/MM/DD/`. */
export function dayFolders(since: number, until: number): string[] {
  const days: string[] = [];
  const first = new Date(since);
  let day = Date.UTC(first.getUTCFullYear(), first.getUTCMonth(), first.getUTCDate());
  for (; day <= until; day += 86_400_000) {
    const d = new Date(day);
    days.push(`${d.getUTCFullYear()}/${pad(d.getUTCMonth() + 1)}/${pad(d.getUTCDate())}/`);
  }
  return days;
}

/** The key a file delivered at `at` would sort after in its day folder: delivery time is in the name, to the minute. */
function startAfter(folder: string, trail: TrailLocation, region: string, at: number): string {
  const d = new Date(at);
  return `${folder}${trail.account}_CloudTrail_${region}_${d.getUTCFullYear()}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}T${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}`;
}

/**
 * How far before the scenario's setup files are still read: a record is delivered after it was made,
 * so nothing older can hold one of the scenario's; the margin covers S3's and the name's clocks
 * against this machine's, and the name's whole minutes.
 */
const CLOCK_MARGIN_MS = 2 * 60_000;

/**
 * One scenario's reading of the trail: every file delivered since `since` (ms), read once, keeping
 * the records `keep` accepts. `read()` picks up the files delivered since the last call.
 */
export class TrailReader {
  readonly #seen = new Set<string>();
  readonly #kept: TrailRecord[] = [];
  readonly #coverage: TrailCoverage = { files: 0, records: 0, latestEventTime: undefined, dataEvents: false };

  constructor(
    readonly trail: TrailLocation,
    private readonly s3: S3Client,
    private readonly since: number,
    private readonly keep: (record: TrailRecord) => boolean,
  ) {}

  get records(): readonly TrailRecord[] {
    return this.#kept;
  }

  get coverage(): Readonly<TrailCoverage> {
    return this.#coverage;
  }

  /** List the folders again and read every file not read yet. Throws what S3 answered when the bucket cannot be listed or a file read. */
  async read(now = Date.now()): Promise<void> {
    const from = this.since - CLOCK_MARGIN_MS;
    const base = `${this.trail.prefix ? `${this.trail.prefix}/` : ''}AWSLogs/${this.trail.account}/CloudTrail/`;
    for (const region of this.trail.regions) {
      for (const day of dayFolders(from, now)) {
        const folder = `${base}${region}/${day}`;
        for (const key of await this.#list(folder, startAfter(folder, this.trail, region, from), from)) await this.#readFile(key);
      }
    }
  }

  async #list(folder: string, after: string, from: number): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.s3.send(
        new ListObjectsV2Command({ Bucket: this.trail.bucket, Prefix: folder, ...(token ? { ContinuationToken: token } : { StartAfter: after }) }),
      );
      for (const o of page.Contents ?? []) {
        if (!o.Key || this.#seen.has(o.Key)) continue;
        // Delivered before the scenario began: it cannot hold the scenario's records.
        if (o.LastModified && o.LastModified.getTime() < from) continue;
        keys.push(o.Key);
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return keys;
  }

  async #readFile(key: string): Promise<void> {
    const answer = await this.s3.send(new GetObjectCommand({ Bucket: this.trail.bucket, Key: key }));
    const bytes = await answer.Body?.transformToByteArray();
    if (!bytes) throw new Error(`s3://${this.trail.bucket}/${key} answered without a body`);
    let raws: unknown[];
    try {
      raws = parseLogFile(bytes);
    } catch (error) {
      throw new Error(`s3://${this.trail.bucket}/${key}: ${error instanceof Error ? error.message : String(error)}`);
    }
    this.#seen.add(key);
    this.#coverage.files += 1;
    for (const raw of raws) {
      const record = reduceRecord(raw);
      if (!record) continue;
      this.#coverage.records += 1;
      const latest = this.#coverage.latestEventTime;
      if (latest === undefined || Date.parse(record.eventTime) > Date.parse(latest)) this.#coverage.latestEventTime = record.eventTime;
      if (isS3DataEvent(record)) this.#coverage.dataEvents = true;
      if (this.keep(record)) this.#kept.push(record);
    }
  }
}
