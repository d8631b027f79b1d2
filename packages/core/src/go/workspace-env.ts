/**
 * The environment that changes what the go command produces: the one list, read by the
 * compile keys (through go/toolchain.ts), the Nx inputs the plugin infers, and the memo
 * keys of `go list`. Not GOOS/GOARCH/GOARM/GOAMD64/CGO_ENABLED: nx-fnbuild sets those from
 * the platforms and cgo options for every build, so the environment's values never reach
 * a compile. Not GOPROXY/GOPRIVATE/GONOSUMDB: go.sum pins every module's bytes wherever
 * they come from.
 */

/** Settings that change the compiler's output: GOFLAGS can carry -tags, -mod, -ldflags; GOEXPERIMENT and GOFIPS140 change the compiler and runtime. */
export const COMPILER_ENV = ['GOFLAGS', 'GOEXPERIMENT', 'GOFIPS140'] as const;

/**
 * The go env settings a compile key records (as `go env -json` reports them): the
 * compiler's settings and GOROOT (the module list and the Go version are keyed on their own).
 */
export const BUILD_ENV_VARS = [...COMPILER_ENV, 'GOROOT'] as const;

/**
 * The process environment that changes a build, as a cache outside the engine (an Nx
 * target's inputs) must see it: the compiler's settings, and GOTOOLCHAIN and GOWORK, which
 * pick the Go version and the build list before any go.mod is read.
 */
export const BUILD_ENV = [...COMPILER_ENV, 'GOTOOLCHAIN', 'GOWORK'] as const;

/** What changes which files `go list` sees and how imports resolve: a build's env, the platform, and GOPATH (where modules live). */
export const LIST_ENV = [...BUILD_ENV, 'GOOS', 'GOARCH', 'CGO_ENABLED', 'GOPATH'] as const;
