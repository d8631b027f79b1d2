import type { ModuleFacts } from './modules';

/** One Nx project inferred from Go code. */
export interface PlannedProject {
  root: string;
  name: string;
  /** The name comes from the project's own project.json (which Nx merges over ours). */
  namedByProjectJson: boolean;
  projectType: 'application' | 'library';
  /** The go.mod this project was inferred from. */
  goMod: string;
  module: ModuleFacts;
}

const base = (dir: string) => dir.split('/').pop()!;

/** A function project: its folder holds a func.yaml. */
export const isFunction = (p: PlannedProject) => Object.hasOwn(p.module.functions, p.root);

/** The module folder is an application of its own: a main package, or a function. */
export const rootIsApplication = (m: ModuleFacts) => m.rootIsMain || Object.hasOwn(m.functions, m.dir);

/** The image a project's build-image writes: func.yaml's name, else the project's. */
export const imageNameOf = (p: PlannedProject) => (isFunction(p) && p.module.functions[p.root]) || p.name;

const pathName = (p: PlannedProject) => (p.root === '.' ? base(p.module.path) : p.root.replace(/\//g, '-'));

/**
 * The projects of some modules:
 *   - a module with at most one main package (its root, or one under cmd/) is one
 *     project, an application when it has that main package;
 *   - a module with several is one project per main package under cmd/ (named after its
 *     folder) plus the module itself (a library, unless its root is a main package too);
 *   - a folder with a func.yaml is a function: an application, the module's own project
 *     when it is the module folder (counting as its main package), else one of its own.
 * A project.json keeps its name. Inferred names that collide are qualified: a command (or a
 * function below its module folder) by its module (`billing-server`), a module by its path (`services-billing`).
 */
export function planProjects(modules: { goMod: string; facts: ModuleFacts }[]): PlannedProject[] {
  const out: PlannedProject[] = [];
  for (const { goMod, facts } of modules) {
    const moduleBase = facts.dir === '.' ? base(facts.path) : base(facts.dir);
    const mains = (rootIsApplication(facts) ? 1 : 0) + facts.cmdMains.length;
    const project = (root: string, fallback: string, projectType: PlannedProject['projectType']): PlannedProject => {
      const own = facts.projectJson[root];
      return { root, name: own ?? fallback, namedByProjectJson: !!own, projectType, goMod, module: facts };
    };
    for (const fn of Object.keys(facts.functions).sort()) if (fn !== facts.dir) out.push(project(fn, base(fn), 'application'));
    if (mains <= 1) {
      out.push(project(facts.dir, moduleBase, mains === 1 ? 'application' : 'library'));
      continue;
    }
    out.push(project(facts.dir, moduleBase, rootIsApplication(facts) ? 'application' : 'library'));
    for (const cmd of facts.cmdMains) out.push(project(cmd, base(cmd), 'application'));
  }

  const counts = () => {
    const n = new Map<string, number>();
    for (const p of out) n.set(p.name, (n.get(p.name) ?? 0) + 1);
    return n;
  };
  // Commands first (by their module), then modules (by their path), then anything left (by its path).
  const qualify = (which: (p: PlannedProject) => boolean, rename: (p: PlannedProject) => string) => {
    const n = counts();
    for (const p of out) if (!p.namedByProjectJson && n.get(p.name)! > 1 && which(p)) p.name = rename(p);
  };
  const isCommand = (p: PlannedProject) => p.root !== p.module.dir;
  qualify(isCommand, (p) => `${p.module.dir === '.' ? base(p.module.path) : base(p.module.dir)}-${p.name}`);
  qualify((p) => !isCommand(p), pathName);
  qualify(() => true, pathName);
  return out.sort((a, b) => (a.root < b.root ? -1 : 1));
}
