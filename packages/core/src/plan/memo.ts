import { promises as fs } from 'node:fs';
import { dirname, join } from 'node:path';
import { snapshotDir, type DirSnapshot } from '../cache/memo';
import type { Store } from '../cache/store';
import { sourceInfo, type SourceInfo } from '../build/source-info';
import { isMovableRef } from '../functions/git-source';
import { packageDirsUnder } from '../go/targets';
import { keyOf } from '../util/hash';
import type { PlanInput, PlanRequest, ProjectPlan } from './plan';

/** One remembered plan and what says it still holds. */
interface Remembered {
  plan: ProjectPlan;
  snapshots: DirSnapshot[];
  go: string;
  /** The source info planning read (for ldflags or tags), when it read any. */
  info?: SourceInfo;
}

/** Per process: a long-lived one (the tests, a watch) plans many projects; the oldest go first. */
const MAX_PLANS = 64;
const plans = new Map<string, Promise<Remembered>>();
/** Snapshots still being taken: they overlap the build, which waits for them before it closes the store. */
const pending = new Set<Promise<unknown>>();

/** The memo's key: the request, the options and the whole environment (never stored: only compared, in memory). */
export const planKey = (req: PlanRequest, input: PlanInput): string =>
  keyOf({
    kind: 'plan',
    v: 1,
    workspaceRoot: req.workspaceRoot,
    projectRoot: req.projectRoot,
    projectName: req.projectName ?? null,
    input,
    env: req.env ?? process.env,
  });

/**
 * The folders planning read, whole (a cmd/ folder appearing counts): the project's and the
 * sources' (func.yaml, the function's package), the module's (go.mod, go.sum), go.work's,
 * and every folder under cmd/, where main packages are found.
 */
async function watched(plan: ProjectPlan): Promise<string[]> {
  const roots = [plan.projectRoot, plan.sourceRoot, plan.module.dir, ...(plan.module.workFile ? [dirname(plan.module.workFile)] : [])];
  return [...new Set([...roots, ...(await packageDirsUnder(join(plan.sourceRoot, 'cmd')))])];
}

const snapshots = (dirs: string[], store: Store) => Promise.all(dirs.map((d) => snapshotDir(d, store.statMemo)));

async function goSignature(go: string): Promise<string> {
  const st = await fs.stat(go).catch(() => undefined);
  return st ? `${st.size}:${st.mtimeMs}:${st.ino}` : 'missing';
}

async function stillHolds(r: Remembered, store: Store): Promise<boolean> {
  const { plan } = r;
  // A branch can move on the remote at any time: its plan is resolved every build.
  if (plan.source && isMovableRef(plan.source.ref)) return false;
  if (plan.fn && !(await fs.stat(plan.fn.entry.overlay).catch(() => undefined))) return false;
  if ((await goSignature(plan.tc.go)) !== r.go) return false;
  const now = await snapshots(
    r.snapshots.map((s) => s.dir),
    store,
  );
  if (now.some((s, i) => JSON.stringify(s.entries) !== JSON.stringify(r.snapshots[i].entries))) return false;
  // Only git can say whether a commit or a tag came since; the source-info memo answers from the refs, starting no process.
  return !r.info || JSON.stringify(await sourceInfo(plan.sourceRoot, plan.env, plan.version, store)()) === JSON.stringify(r.info);
}

export async function reusedPlan(key: string, store: Store): Promise<ProjectPlan | undefined> {
  const r = await plans.get(key)?.catch(() => undefined);
  if (!r) return undefined;
  if (await stillHolds(r, store)) return r.plan;
  plans.delete(key);
  return undefined;
}

/**
 * Remembers a plan with what says it holds. The snapshots are taken while the build goes on
 * (a process plans one project once, mostly); settlePlans() waits for them.
 */
export function rememberPlan(key: string, store: Store, r: { plan: ProjectPlan; info?: SourceInfo }): void {
  const remembered = (async (): Promise<Remembered> => {
    const [taken, go] = await Promise.all([watched(r.plan).then((dirs) => snapshots(dirs, store)), goSignature(r.plan.tc.go)]);
    return { ...r, snapshots: taken, go };
  })();
  const settled: Promise<void> = remembered.then(
    () => void pending.delete(settled),
    () => {
      pending.delete(settled);
      if (plans.get(key) === remembered) plans.delete(key); // a folder that could not be read: plan again next time
    },
  );
  pending.add(settled);
  plans.delete(key);
  plans.set(key, remembered);
  while (plans.size > MAX_PLANS) plans.delete(plans.keys().next().value!);
}

export async function settlePlans(): Promise<void> {
  await Promise.all([...pending]);
}
