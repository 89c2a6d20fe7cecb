// TaskLocalData: opens the task-local-data map, registers the calling thread (PROTOCOL.md §5) and hands out typed
// keys over the process's metadata page and this thread's data page. JavaScript decides, native does syscalls.
import {
  type AtomicMemory,
  type KeyInfo,
  type Layout,
  DATA_START,
  type TldError,
  createKey,
  dataPageOffset,
  layoutFor,
  listKeys,
  VALUE_TYPES,
  type ValueTypeName,
} from '@tld/protocol';
import { type Entry, current, noteWalkRun, runWithValues } from './async-context.js';
import { defaultPinPath } from './config.js';
import { WALK_KEY, noteKeyExtent, publishWalk, runInRecord, useWalk } from './context-walk.js';
import { nameWorkerThread } from './thread-name.js';
import {
  closedError,
  describeValue,
  invalidArgType,
  invalidArgValue,
  noWalkError,
  unknownKeyError,
  unknownOption,
} from './errors.js';
import { TraceContext } from './trace-context.js';
import { threadWalk } from './v8-walk.js';
import { type Key, type Session, closeKey } from './key.js';
import { KEY_CLASSES, type KeyClass, type KeyMethods } from './key-classes.js';
import { checkMap, checkMapFd, openPinned } from './map.js';
import { MetaPageMemory } from './meta-memory.js';
import { native } from './native.js';
import { isUnavailable, privatePages, warnUnavailable } from './noop.js';
import { registerThreadPages } from './registration.js';
import { type Schema, type TypedTaskLocalData, defineSchema } from './schema.js';
import { checkMetaPage } from './thread-pages.js';

export interface OpenOptions {
  /** Path of the pinned map. Default: `$TLD_PIN` when set, else DEFAULT_PIN_PATH (/sys/fs/bpf/tld_data_map). */
  readonly pinPath?: string;
  /** An open BPF map fd to use instead of a pin. The caller keeps ownership: open() and close() never close it. */
  readonly mapFd?: number;
  /**
   * What open() does when task-local data cannot work here (no kernel support, no bpffs or map, no permission,
   * pages it cannot use): 'throw' (default) throws the typed error; 'noop' returns a TaskLocalData with
   * `available === false` whose keys store into private memory, with the error as `unavailableReason`.
   */
  readonly ifUnavailable?: 'throw' | 'noop';
  /**
   * How run() makes its values follow the async context (README, "Per-request values"):
   * - 'walk': run() keeps its values in a record behind an AsyncLocalStorage and readers walk V8's async context
   *   to it: no async_hooks, no promise hooks. Needs AsyncContextFrame (Node 24+, 22 with
   *   --experimental-async-context-frame) and the addon build for this Node ABI; throws ERR_TLD_NO_WALK otherwise.
   *   Readers that can only read the registered page (sched_ext, the upstream BPF header) see the thread's values.
   * - 'page': hooks copy the running context's values into the page at every switch (every reader sees them).
   * - 'auto' (default): 'walk' where it is available, else 'page' (`asyncContextReason` says why).
   */
  readonly asyncContext?: 'auto' | 'walk' | 'page';
}

/** The mechanism run() uses on this TaskLocalData. */
export type AsyncContextMode = 'walk' | 'page';

/** One key of the metadata page. */
export interface KeyDescription {
  readonly name: string;
  readonly size: number;
  /** Offset of the value in data[]. */
  readonly offset: number;
}

/** Every option open() knows: any other property is refused (a misspelt `pinpath` would open the default map). */
const OPEN_OPTIONS: readonly (keyof OpenOptions)[] = ['pinPath', 'mapFd', 'ifUnavailable', 'asyncContext'];

/** Edit distance of two short strings (insertions, deletions, substitutions), for "did you mean". */
function distance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) {
      next[j] = Math.min(
        (row[j] as number) + 1,
        (next[j - 1] as number) + 1,
        (row[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    row = next;
  }
  return row[b.length] as number;
}

/** The known option `name` most likely meant, if any is close. */
function closestOption(name: string): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const option of OPEN_OPTIONS) {
    const d = option.toLowerCase() === name.toLowerCase() ? 0 : distance(option, name);
    if (d < bestDistance && d <= Math.max(2, option.length / 3)) {
      best = option;
      bestDistance = d;
    }
  }
  return best;
}

function checkKnownOptions(options: object): void {
  for (const name of Reflect.ownKeys(options)) {
    if (typeof name === 'string' && (OPEN_OPTIONS as readonly string[]).includes(name)) continue;
    const shown = typeof name === 'string' ? JSON.stringify(name) : String(name);
    const suggestion = typeof name === 'string' ? closestOption(name) : undefined;
    throw unknownOption(
      `TaskLocalData.open(): unknown option ${shown}` +
        (suggestion === undefined ? '' : ` (did you mean ${suggestion}?)`) +
        `: the options are ${OPEN_OPTIONS.join(', ')}. Nothing was opened`,
    );
  }
}

function validateOptions(options: unknown): OpenOptions {
  if (options === undefined) return {};
  if (options === null || typeof options !== 'object') {
    throw invalidArgType(
      `TaskLocalData.open(options): options must be an object like { pinPath } or { mapFd }, got ${describeValue(options)}`,
    );
  }
  checkKnownOptions(options);
  const { pinPath, mapFd, ifUnavailable, asyncContext } = options as Record<string, unknown>;
  if (asyncContext !== undefined && asyncContext !== 'auto' && asyncContext !== 'walk' && asyncContext !== 'page') {
    const got = typeof asyncContext === 'string' ? JSON.stringify(asyncContext) : describeValue(asyncContext);
    throw invalidArgValue(`TaskLocalData.open(): asyncContext must be 'auto', 'walk' or 'page', got ${got}`);
  }
  if (pinPath !== undefined && mapFd !== undefined) {
    throw invalidArgValue('TaskLocalData.open(): give either pinPath or mapFd, not both');
  }
  if (pinPath !== undefined && typeof pinPath !== 'string') {
    throw invalidArgType(`TaskLocalData.open(): pinPath must be a string, got ${describeValue(pinPath)}`);
  }
  if (typeof pinPath === 'string' && (pinPath.length === 0 || pinPath.includes('\0'))) {
    throw invalidArgValue('TaskLocalData.open(): pinPath must be a non-empty path without NUL');
  }
  if (mapFd !== undefined && typeof mapFd !== 'number') {
    throw invalidArgType(`TaskLocalData.open(): mapFd must be a number, got ${describeValue(mapFd)}`);
  }
  if (typeof mapFd === 'number' && (!Number.isInteger(mapFd) || mapFd < 0 || mapFd > 0x7fff_ffff)) {
    throw invalidArgValue(`TaskLocalData.open(): mapFd must be a non-negative integer file descriptor, got ${mapFd}`);
  }
  if (ifUnavailable !== undefined && ifUnavailable !== 'throw' && ifUnavailable !== 'noop') {
    // String() of an object without a prototype throws an uncoded TypeError: name only the type of a non-string.
    const got = typeof ifUnavailable === 'string' ? ifUnavailable : describeValue(ifUnavailable);
    throw invalidArgValue(`TaskLocalData.open(): ifUnavailable must be 'throw' or 'noop', got ${got}`);
  }
  return options;
}

/** What a TaskLocalData writes into: the registered pages, or private ones when unavailable. */
interface Backing {
  readonly mapId: number;
  readonly valueSize: number;
  readonly meta: AtomicMemory;
  /** The metadata page is ours (its header may be repaired) or private. */
  readonly metaOwned: boolean;
  readonly data: ArrayBuffer;
  /** Offset of data[] in `data`. */
  readonly dataStart: number;
  /** Bytes of data[] keys may end within. */
  readonly dataLimit: number;
  readonly layout: Layout;
  readonly unavailableReason?: TldError;
}

/** Values for run(): names of keys this TaskLocalData created, to values of each key's type. */
export type RunValues = Readonly<Record<string, bigint | number | string | Uint8Array>>;

/** TaskLocalData's key methods (u64(), string(), ...), one per value type: installed from KEY_CLASSES below. */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type, @typescript-eslint/no-unsafe-declaration-merging -- the methods' types, merged into the class
export interface TaskLocalData extends KeyMethods {}

/**
 * Task-local data of the calling thread: typed keys whose values BPF programs read from this thread's page.
 * Each thread (main or worker) opens its own; keys of the same name share one slot and offset process-wide.
 */
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging -- see the interface above
export class TaskLocalData {
  /** Id of the map this thread is registered in (0 when unavailable). */
  readonly mapId: number;
  /** value_size of the map (16 or 24; 0 when unavailable). */
  readonly valueSize: number;
  /** Why task-local data is unavailable (open({ ifUnavailable: 'noop' })); undefined when available. */
  readonly unavailableReason: TldError | undefined;
  /** How run() follows async contexts here: 'walk' or 'page' (open()'s asyncContext option). */
  readonly asyncContext: AsyncContextMode;
  /** With asyncContext 'auto' resolved to 'page': why the walk is unavailable on this thread; else undefined. */
  readonly asyncContextReason: string | undefined;
  readonly #session: Session = { closed: false };
  readonly #backing: Backing;
  readonly #keys = new Map<string, Key>();
  /** The first key handed out under each name: it decides how run() checks and encodes that name's value. */
  readonly #byName = new Map<string, Key>();

  static {
    // One method per row of @tld/protocol's VALUE_TYPES, named after it: a size argument where the row has no size,
    // then the options the class checks (before the key is created, so refused options create nothing).
    for (const [type, KeyClass] of Object.entries(KEY_CLASSES) as [ValueTypeName, KeyClass][]) {
      const fixedSize = VALUE_TYPES[type].size;
      const method = {
        [type](this: TaskLocalData, name: string, ...args: unknown[]): Key {
          const size = fixedSize ?? args[0];
          const options = KeyClass.parseOptions?.(args[fixedSize === undefined ? 1 : 0]);
          return this.#key(type, name, size as number, (info, page, at) => {
            return new KeyClass(this.#session, info, page, at, options as never);
          });
        },
      }[type];
      Object.defineProperty(TaskLocalData.prototype, type, { value: method, writable: true, configurable: true });
    }
  }

  private constructor(backing: Backing, asyncContext: 'auto' | 'walk' | 'page') {
    this.mapId = backing.mapId;
    this.valueSize = backing.valueSize;
    this.unavailableReason = backing.unavailableReason;
    this.#backing = backing;
    const walk = asyncContext === 'page' ? undefined : threadWalk();
    let reason = walk !== undefined && !walk.ok ? walk.reason : undefined;
    if (walk?.ok === true) {
      // Once per thread (and page): the facts readers walk by, as the key tld.walk.
      const { meta, data, dataStart, dataLimit, layout, metaOwned } = backing;
      try {
        checkMetaPage(meta, layout, metaOwned);
        const info = createKey(meta, WALK_KEY.name, WALK_KEY.size, { layout, dataLimit });
        publishWalk(walk, data, dataPageOffset(info.offset, dataStart));
      } catch (error) {
        // No room for the key (or a page that cannot hold it): 'walk' says so, 'auto' uses the page mechanism.
        if (asyncContext === 'walk') throw error;
        reason = `the key ${WALK_KEY.name} could not be created: ${(error as Error).message}`;
      }
    }
    if (walk?.ok !== true || reason !== undefined) {
      this.asyncContext = 'page';
      this.asyncContextReason = reason;
      return;
    }
    this.asyncContext = 'walk';
    this.asyncContextReason = undefined;
    useWalk(walk);
    current.walk = true;
  }

  /**
   * Opens the task-local-data map (default: pinned at `$TLD_PIN`, else /sys/fs/bpf/tld_data_map; or `{ pinPath }`, or
   * `{ mapFd }` which stays the caller's) and registers the calling thread in it, once per thread and map: the
   * registration lasts until the thread exits.
   * Throws TypeError (code ERR_INVALID_ARG_TYPE / ERR_INVALID_ARG_VALUE / ERR_TLD_UNKNOWN_OPTION) for bad options;
   * TldError with code ERR_TLD_NO_BPFFS, ERR_TLD_NO_MAP, ERR_TLD_PERMISSION, ERR_TLD_UNSAFE_PIN_PATH, ERR_TLD_MAP_TYPE,
   * ERR_TLD_VALUE_SIZE, ERR_TLD_BAD_FD, ERR_TLD_FOREIGN_REGISTRATION or ERR_TLD_BAD_LAYOUT, NotSupportedError (kernel or map without uptr support,
   * no PIDFD_THREAD) or BpfSyscallError — or, with `{ ifUnavailable: 'noop' }`, returns an unavailable
   * TaskLocalData carrying that TldError instead. After a failure nothing new is registered or held.
   */
  static open(options?: OpenOptions): TaskLocalData {
    const { pinPath, mapFd, ifUnavailable, asyncContext = 'auto' } = validateOptions(options);
    if (asyncContext === 'walk') {
      const walk = threadWalk();
      if (!walk.ok) throw noWalkError(walk.reason);
    }
    // Explicit options win over TLD_PIN; a malformed TLD_PIN is a configuration error, thrown even with 'noop'.
    const path = mapFd === undefined ? (pinPath ?? defaultPinPath()) : undefined;
    nameWorkerThread();
    try {
      return new TaskLocalData(openBacking(path, mapFd), asyncContext);
    } catch (error) {
      if (ifUnavailable !== 'noop' || !isUnavailable(error)) throw error;
      warnUnavailable(error);
      const layout = layoutFor(native.pageSize());
      const { meta, data } = privatePages(layout);
      return new TaskLocalData(
        {
          mapId: 0,
          valueSize: 0,
          meta,
          metaOwned: true,
          data,
          dataStart: DATA_START,
          dataLimit: layout.dataBytes,
          layout,
          unavailableReason: error,
        },
        asyncContext,
      );
    }
  }

  /** false when open({ ifUnavailable: 'noop' }) fell back to private memory: BPF sees none of the values. */
  get available(): boolean {
    return this.unavailableReason === undefined;
  }

  /** Whether close() was called. */
  get closed(): boolean {
    return this.#session.closed;
  }

  /**
   * Declares keys once and returns a typed view of them: `tld.define({ req_id: 'u64', route: { type: 'string',
   * size: 32 } })`. Its `run()`, `set()` and `keys` are checked by TypeScript against the declaration; this
   * TaskLocalData's own methods stay as they are. Creates every key (get-or-create, as `u64()` etc. do). Throws
   * TypeError (ERR_INVALID_ARG_TYPE / ERR_INVALID_ARG_VALUE) for a schema that is not an object or a declaration
   * that is not one of the forms, and the TldErrors of key creation.
   */
  define<const S extends Schema>(schema: S): TypedTaskLocalData<S> {
    return defineSchema(this, schema);
  }

  /** Every published key of the process in slot order. Throws ERR_TLD_CLOSED after close(). */
  keys(): KeyDescription[] {
    this.#checkOpen();
    return listKeys(this.#backing.meta, this.#backing.layout).map(({ name, size, offset }) => ({ name, size, offset }));
  }

  /**
   * Runs `fn` with `values` as this thread's task local data while `fn`, and every async continuation created
   * inside it (await, timers, I/O callbacks), runs on this thread; returns what `fn` returns (its promise for an
   * async `fn`). A nested run() merges its values over the enclosing run's (inner wins); inside a run, set()
   * changes the run's value and get() reads it; keys no run gives keep the thread's own value. Between callbacks
   * the page holds the thread's own values (by the walk, readers follow the run's record; see asyncContext). By the
   * page mechanism the first call installs async hooks for this thread (see async-context.ts); by the walk nothing
   * is ever installed.
   * `trace` (a TraceContext: an OpenTelemetry span's ids) goes into the header of the run's record by the walk,
   * where readers of OTEP 4947 records find it; without it a run keeps the enclosing run's (none outside runs). The
   * page mechanism has no record: there it is checked and not published.
   * Throws TypeError for a `values` that is not an object, an `fn` that is not a function or a `trace` that is not
   * a TraceContext, ERR_TLD_UNKNOWN_KEY for a name no key of this TaskLocalData has, the TypeError/RangeError set()
   * throws for a bad value, and ERR_TLD_CLOSED after close(): always before anything is written or installed.
   */
  run<R>(values: RunValues, fn: () => R, trace?: TraceContext): R {
    this.#checkOpen();
    if (values === null || typeof values !== 'object' || Array.isArray(values)) {
      throw invalidArgType('run(values, fn): values must be an object from key names to values, like { req_id: 42n }');
    }
    if (typeof fn !== 'function') throw invalidArgType('run(values, fn): fn must be a function');
    if (trace !== undefined && !(trace instanceof TraceContext)) {
      throw invalidArgType('run(values, fn, trace): trace must be a TraceContext (TraceContext.from(traceId, spanId))');
    }
    if (this.asyncContext === 'walk') {
      noteWalkRun();
      return runInRecord(
        threadWalk() as Extract<ReturnType<typeof threadWalk>, { ok: true }>,
        this.#byName,
        values,
        fn,
        trace,
      );
    }
    const entries: Entry[] = [];
    for (const name of Object.keys(values)) {
      const key = this.#byName.get(name);
      if (key === undefined) throw unknownKeyError(name, [...this.#byName.keys()]);
      entries.push({ at: key.pageWord, value: key.encode(values[name]) });
    }
    return runWithValues(this.#backing.data, entries, fn);
  }

  /**
   * Ends this TaskLocalData: it and its keys throw ERR_TLD_CLOSED afterwards. Idempotent; never throws.
   * The thread's registration and page stay until the thread exits — the environment's cleanup hook then deletes
   * the element and only afterwards unmaps the page — because native code on the thread may have read
   * `tld_data_p` and kept pointers into the page (PROTOCOL.md §5). Values stay visible to BPF: set them to a
   * neutral value before closing if that matters. Opening the same map again on the thread reuses the
   * registration.
   */
  close(): void {
    this.#session.closed = true;
    // Every key this TaskLocalData handed out is in #keys: each keeps its own closed flag for set()'s check.
    for (const key of this.#keys.values()) closeKey(key);
    this.#keys.clear();
    this.#byName.clear();
  }

  #checkOpen(): void {
    if (this.#session.closed) throw closedError('TaskLocalData');
  }

  #key<K extends Key>(
    kind: ValueTypeName,
    name: string,
    size: number,
    make: (info: KeyInfo, page: ArrayBuffer, byteOffset: number) => K,
  ): K {
    this.#checkOpen();
    if (typeof name !== 'string') throw invalidArgType(`key name must be a string, got ${describeValue(name)}`);
    if (typeof size !== 'number') throw invalidArgType(`key size must be a number, got ${describeValue(size)}`);
    const cacheKey = `${kind}:${size}:${name}`;
    const cached = this.#keys.get(cacheKey);
    if (cached) return cached as K;
    const { meta, metaOwned, data, dataStart, dataLimit, layout } = this.#backing;
    // A native library's static keys may have raised meta.size since open(): bound every creator by the page.
    checkMetaPage(meta, layout, metaOwned);
    let info: KeyInfo;
    try {
      info = createKey(meta, name, size, { layout, dataLimit });
    } catch (error) {
      // @tld/protocol's TypeError for a name without a UTF-8 form carries no code.
      throw error instanceof TypeError && !('code' in error) ? invalidArgValue(error.message, error) : error;
    }
    const key = make(info, data, dataPageOffset(info.offset, dataStart));
    noteKeyExtent(info.offset, info.size);
    this.#keys.set(cacheKey, key);
    if (!this.#byName.has(name)) this.#byName.set(name, key);
    return key;
  }
}

/** Opens the map, registers this thread and describes the pages its keys use. */
function openBacking(pinPath: string | undefined, mapFd: number | undefined): Backing {
  let fd: number;
  let source: string;
  if (mapFd !== undefined) {
    checkMapFd(mapFd);
    fd = mapFd;
    source = `mapFd ${mapFd}`;
  } else {
    const path = pinPath ?? defaultPinPath();
    fd = openPinned(path).fd;
    source = path;
  }
  try {
    const info = checkMap(fd, source);
    const layout = layoutFor(native.pageSize());
    const pages = registerThreadPages(fd, info, source, layout);
    return {
      mapId: info.id,
      valueSize: info.valueSize,
      meta: new MetaPageMemory(pages.meta),
      metaOwned: pages.metaOwned,
      data: pages.data,
      dataStart: pages.dataStart,
      dataLimit: pages.dataLimit,
      layout,
    };
  } finally {
    // The registration keeps its own dup of the fd; a pin's fd is ours to close, a caller's mapFd is not.
    if (mapFd === undefined) native.close(fd);
  }
}
