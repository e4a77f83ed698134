// Builds src/dashboard.jsx into one ES module: ../src/airflow_resumable/ui/static/dashboard.js, or into the
// folder given as the first argument (what `make ui-bundle-check` compares with the committed file).
// React, ReactRouterDOM and ChakraUI are not bundled: Airflow's UI puts its own on globalThis for plugins.
// The output depends only on these files and the esbuild version pinned in package-lock.json.
import path from "node:path";
import { fileURLToPath } from "node:url";

import { build } from "esbuild";

const here = path.dirname(fileURLToPath(import.meta.url));
const outdir = process.argv[2]
  ? path.resolve(process.argv[2])
  : path.join(here, "..", "src", "airflow_resumable", "ui", "static");

await build({
  absWorkingDir: here,
  entryPoints: ["src/dashboard.jsx"],
  outfile: path.join(outdir, "dashboard.js"),
  bundle: true,
  format: "esm",
  platform: "browser",
  target: "es2020",
  jsx: "transform",
  jsxFactory: "React.createElement",
  jsxFragment: "React.Fragment",
  charset: "utf8",
  legalComments: "none",
  banner: { js: "// airflow-resumable dashboard card. Built from ui-src/ by `make ui-bundle`: do not edit." },
  logLevel: "warning",
});
