export { default as buildBinariesExecutor } from './executors/build-binaries/executor';
