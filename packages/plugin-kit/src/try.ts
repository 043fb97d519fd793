import { checkPlugin, formatReport } from './index.ts';
const report = await checkPlugin(process.argv[2]!, { budget: { ms: 5000, memoryMb: 512 }, fuzzRuns: 8, plugins: process.argv[3] ? process.argv[3].split(',') : undefined, onResult: (r) => console.error(r.plugin, r.check, r.status, r.ms, r.message) });
console.log(formatReport(report));
