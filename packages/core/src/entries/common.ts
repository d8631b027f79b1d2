// What every command's caller needs (reporting, errors, signals, the build's notes) and nothing heavier:
// the command entries (binaries, images, publish) and the executors load this, not the whole index.
export { consoleReporter, formatMs } from '../graph/console-reporter';
export type { NodeEvent, Reporter } from '../graph/reporting';
export { FnbuildError, isUserError } from '../util/errors';
export { abortOnSignals } from '../process/run';
export { buildNotes } from '../build/notes';
export { isMovableRef, type ResolvedSource } from '../functions/git-source';
export type { FuncYamlPins } from '../functions/func-yaml';
