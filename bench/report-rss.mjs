// Preloaded into a program (node --import) to report its peak RSS at exit.
process.on('exit', () => {
  process.stderr.write(`maxRssMiB=${(process.resourceUsage().maxRSS / 1024).toFixed(1)}\n`);
});
