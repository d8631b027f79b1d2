export { default as buildBinariesExecutor } from './executors/build-binaries/executor';
export { default as buildImageExecutor } from './executors/build-image/executor';
export { default as pushExecutor } from './executors/push/executor';
