// Validate AsyncAPI documents with the official parser (@asyncapi/parser, pinned by
// package-lock.json beside this file; installed by `deploy/local/install.sh asyncapi`).
//   node validate.mjs FILE...   ->  one JSON line per file on stdout:
//   {"file": ..., "valid": true|false, "diagnostics": [{"code", "severity", "message", "path"}]}
// severity: 0 error, 1 warning, 2 information, 3 hint (Spectral's DiagnosticSeverity).
// Exit status 0 when every document parsed, whatever the diagnostics (the tests judge them).
import { Parser, fromFile } from "@asyncapi/parser";

const parser = new Parser();
let failed = false;
for (const file of process.argv.slice(2)) {
  const { document, diagnostics } = await fromFile(parser, file).parse();
  const out = diagnostics.map((d) => ({ code: String(d.code), severity: d.severity, message: d.message, path: d.path }));
  if (!document) failed = true;
  process.stdout.write(JSON.stringify({ file, valid: Boolean(document), diagnostics: out }) + "\n");
}
process.exit(failed ? 1 : 0);
